"""What `streamlit run` starts: the dashboard (app.py) with dscr's middleware in front of it."""

import sys
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.uploads import UploadGuard

app = st.App(str(Path(__file__).resolve().parent / "app.py"), middleware=[Middleware(UploadGuard)])
