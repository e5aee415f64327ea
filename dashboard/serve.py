"""What `streamlit run` starts: the dashboard (app.py) with dscr's log-in routes and middleware."""

import sys
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.pagescripts import PageScripts
from dashboard.uploads import UploadGuard
from dashboard.weblogin import ROUTES, LoginGate

app = st.App(str(Path(__file__).resolve().parent / "app.py"), routes=ROUTES,
             middleware=[Middleware(LoginGate), Middleware(UploadGuard), Middleware(PageScripts)])
