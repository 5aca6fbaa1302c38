"""The Streamlit dashboard: `app` (router and shared frame), `views/` (one thin script per
page), `cache` (every cached query, thin wrappers over `grokviz.store.queries`), `widgets`
(widgets bound to the view state and URL), and the pure `viewstate` (URL parameters of a view).

The only package that imports Streamlit; it never imports torch, transformers or umap.
"""
