"""Streamlit's own texts in Korean: the uploader's button, the tables' and charts' toolbars, the
input hints, the sidebar's buttons.

Streamlit has no language setting (1.67): its widgets say "Upload", "50MB per file", "Press
Enter to apply", "Search", "Fullscreen" in a Korean page. The dashboard marks the sidebar with
the user's language (`marker(lang)`, a keyed container around the language switch, which
Streamlit draws with the class `st-key-dscr-lang-<lang>`); the script below, added to the page
(dashboard/pagescripts.py), watches the page and, while the marker says Korean, replaces those
texts (and their tooltips and accessible names) by Korean, restoring them when it says English.

Only Streamlit's own strings change: a text must be exactly one of `EXACT`, or match one of
`PATTERNS`, and text inside what a page writes (markdown, captions, labels, st.text, code, a
selectbox's options) is never touched. tests/dashboard/test_pagescripts.py checks every string
here is still in the installed Streamlit's code; tests/e2e/test_login_browser.py checks a Korean
page in Chromium shows none of them.
"""

from __future__ import annotations

import json

LANG_MARKER = "dscr-lang-"

# Streamlit's (and Plotly's toolbar) English, as its code writes it, and the Korean shown instead.
EXACT = {
    "Skip to main content": "본문으로 건너뛰기",
    "Collapse sidebar": "사이드바 접기",
    "Expand sidebar": "사이드바 펼치기",
    "App pages": "화면 목록",
    "Open": "펼치기",
    "Upload": "파일 올리기",
    "Drag and drop a file here": "파일을 여기에 끌어다 놓으십시오",
    "Drag and drop files here": "파일을 여기에 끌어다 놓으십시오",
    "Search": "검색",
    "Fullscreen": "전체 화면",
    "Close fullscreen": "전체 화면 닫기",
    "Show/hide columns": "열 보이기/숨기기",
    "Increment": "늘리기",
    "Decrement": "줄이기",
    "Choose date": "날짜 선택",
    "Clear date": "날짜 지우기",
    "No results": "결과 없음",
    "Clear all": "모두 지우기",
    "Choose an option": "선택하십시오",
    "Close": "닫기",
    "Running...": "실행 중...",
    "Sidebar": "사이드바",
    "Link to heading": "제목으로 가는 링크",
    "file upload": "파일 올리기",
    "Show password": "비밀번호 보기",
    "Hide password": "비밀번호 숨기기",
    "Choose options": "선택하십시오",
    # Plotly's modebar (its buttons' tooltips)
    "Download plot as a PNG": "그림을 PNG로 내려받기",
    "Download plot": "그림 내려받기",
    "Zoom": "확대 영역",
    "Pan": "이동",
    "Zoom in": "확대",
    "Zoom out": "축소",
    "Autoscale": "자동 배율",
    "Reset axes": "축 되돌리기",
    "Box Select": "상자 선택",
    "Lasso Select": "올가미 선택",
}
# Texts with a figure in them: (JavaScript regular expression, replacement).
PATTERNS = [
    (r"^(\d+(?:\.\d+)?\s?[KMGT]?B) per file$", "파일당 최대 $1"),
    (r"^Press (Enter|⌘\+Enter|Ctrl\+Enter) to apply$", "$1 키를 누르면 적용됩니다"),
    (r"^Press (Enter|⌘\+Enter|Ctrl\+Enter) to submit form$", "$1 키를 누르면 양식을 제출합니다"),
    (r"^Help for (.+)$", "$1 도움말"),
    # A date field's parts, named with the field's label.
    (r"^year, (.+)$", "$1: 연도"),
    (r"^month, (.+)$", "$1: 월"),
    (r"^day, (.+)$", "$1: 일"),
]
ATTRIBUTES = ("title", "aria-label", "placeholder", "data-title")
# What a page writes: never translated, whatever it says ...
PAGE_TEXT = ('[data-testid="stMarkdownContainer"], [data-testid="stText"], '
             '[data-testid="stCode"], [data-testid="stJson"], [role="option"]')
# ... except inside what only Streamlit writes (the uploader's drop zone draws its button's label
# as markdown).
STREAMLIT_ONLY = '[data-testid="stFileUploaderDropzone"]'
# Tooltips and accessible names are Streamlit's own (a page's markdown writes none), except an
# option's, which is the page's label for it.
PAGE_NAMES = '[role="option"]'



def marker(lang: str) -> str:
    """The key of the sidebar container that tells the script the page's language."""
    return f"{LANG_MARKER}{lang}"


def script() -> bytes:
    config = json.dumps({"exact": EXACT, "patterns": PATTERNS, "attributes": ATTRIBUTES,
                         "skip": PAGE_TEXT, "own": STREAMLIT_ONLY, "skipNames": PAGE_NAMES,
                         "marker": LANG_MARKER},
                        ensure_ascii=False)
    return ("<script>(() => {"
            f"const c = {config};"
            "const patterns = c.patterns.map(([re, to]) => [new RegExp(re), to]);"
            "const originals = new WeakMap();"  # node -> {text or attribute: English}
            "const korean = () => document.querySelector('.st-key-' + c.marker + 'ko') !== null;"
            "const english = () => document.querySelector('[class*=\"st-key-' + c.marker + '\"]') !== null && !korean();"
            "const say = (text) => { const key = text.trim(); if (!key) return null;"
            " if (Object.prototype.hasOwnProperty.call(c.exact, key)) return text.replace(key, c.exact[key]);"
            " for (const [re, to] of patterns) if (re.test(key)) return text.replace(key, key.replace(re, to));"
            " return null; };"
            "const keep = (node, slot, value) => { let o = originals.get(node);"
            " if (!o) { o = {}; originals.set(node, o); } if (!(slot in o)) o[slot] = value; };"
            "const pass = () => { const ko = korean(); if (!ko && !english()) return;"
            " const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);"
            " for (let n = walker.nextNode(); n; n = walker.nextNode()) {"
            "  if (n.parentElement && n.parentElement.closest(c.skip) && !n.parentElement.closest(c.own)) continue;"
            "  if (ko) { const to = say(n.nodeValue); if (to !== null && to !== n.nodeValue) { keep(n, '#text', n.nodeValue); n.nodeValue = to; } }"
            "  else { const o = originals.get(n); if (o && '#text' in o) { n.nodeValue = o['#text']; delete o['#text']; } } }"
            " const selector = c.attributes.map((a) => '[' + a + ']').join(',');"
            " for (const el of document.body.querySelectorAll(selector)) {"
            "  if (el.closest(c.skipNames)) continue;"
            "  for (const a of c.attributes) { const v = el.getAttribute(a); if (v === null) continue;"
            "   if (ko) { const to = say(v); if (to !== null && to !== v) { keep(el, a, v); el.setAttribute(a, to); } }"
            "   else { const o = originals.get(el); if (o && a in o) { el.setAttribute(a, o[a]); delete o[a]; } } } }"
            " document.documentElement.lang = ko ? 'ko' : 'en'; };"
            "let queued = false;"
            "const soon = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; pass(); }); } };"
            "const start = () => { new MutationObserver(soon).observe(document.body, {subtree: true,"
            " childList: true, characterData: true, attributes: true, attributeFilter: [...c.attributes, 'class']}); soon(); };"
            "if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);"
            "})();</script>").encode()
