"""Charting over HTTP, one module per URL module: `ingest` and `charts`
(charting/urls.py, under /api/v1/) and `public` (charting/public_urls.py,
the signed links under /charts/)."""
