"""`gendisco studio`: the Generative Disco workspace as a local web page over a project file.

A thin web layer over the library, split by job:

- `server`: bind, print the URL with its token, run uvicorn, stop cleanly on Ctrl-C;
- `app`: the HTTP API, one route per library call;
- `security`: the per-run token, Host and Origin checks, files kept inside their folders;
- `edits`: round-trip YAML edits that keep comments, validated by `load_project`;
- `jobs` and `tasks`: one model job at a time, progress as Server-Sent Events;
- `media`, `timeline`: waveform peaks, thumbnails, analysis, warp curves, tracks;
- `static/`: the page (HTML, CSS, JavaScript modules; wavesurfer.js vendored).

Needs the `studio` extra (FastAPI, uvicorn, ruamel.yaml); nothing else in gendisco imports
this package.
"""
