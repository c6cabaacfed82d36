"""Forms and uploads: a urlencoded form read whole, a file streamed to disk with a limit.

Serve it natively with ``python examples/upload.py`` (port 8080, or ``PORT``), or with an
ASGI server: ``uvicorn examples.upload:app``; then open http://127.0.0.1:8080/, or::

    curl -d name=ann localhost:8080/greet
    curl -F file=@notes.txt localhost:8080/upload

Uploads land in ``UPLOAD_DIR`` (default ``./uploads``). A file goes to disk chunk by
chunk, so it never sits whole in memory; one larger than ``MAX_UPLOAD`` is refused with
413 and its partial copy deleted.
"""

from __future__ import annotations

import os
from pathlib import Path

from asgiweb import BodyPartReader, web

MAX_UPLOAD = 10 * 1024 * 1024

upload_dir_key = web.AppKey("upload_dir", Path)
max_upload_key = web.AppKey("max_upload", int)

PAGE = """<!doctype html>
<title>upload</title>
<form method="post" action="/greet">
  <input name="name" placeholder="your name"> <button>Greet me</button>
</form>
<form method="post" action="/upload" enctype="multipart/form-data">
  <input type="file" name="file"> <button>Upload</button>
</form>
"""


async def index(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def greet(request: web.Request) -> web.Response:
    form = await request.post()  # urlencoded: small, so read whole
    name = form.get("name")
    if not isinstance(name, str) or not name:
        raise web.HTTPBadRequest(text="the form needs a name")
    return web.Response(text=f"Hello, {name}")


async def upload(request: web.Request) -> web.Response:
    reader = await request.multipart()
    part = await reader.next()
    if not isinstance(part, BodyPartReader) or part.name != "file" or not part.filename:
        raise web.HTTPBadRequest(text="expected a file in the field 'file'")
    # Only the last path component: a client chooses the filename, "../x" included.
    name = Path(part.filename).name
    if name in ("", ".", ".."):
        raise web.HTTPBadRequest(text="bad filename")
    target = request.app[upload_dir_key] / name
    partial = target.with_name(target.name + ".part")
    limit = request.app[max_upload_key]
    size = 0
    try:
        with partial.open("wb") as out:
            while chunk := await part.read_chunk():
                size += len(chunk)
                if size > limit:
                    raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
                out.write(chunk)
    except BaseException:
        # Refused, or the client went away: no half file stays behind.
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)  # the complete file appears under its name at once
    return web.json_response({"name": name, "size": size}, status=201)


async def make_upload_dir(app: web.Application) -> None:
    app[upload_dir_key].mkdir(parents=True, exist_ok=True)


def make_app(upload_dir: Path, max_upload: int = MAX_UPLOAD) -> web.Application:
    app = web.Application()
    app[upload_dir_key] = upload_dir
    app[max_upload_key] = max_upload
    app.on_startup.append(make_upload_dir)
    app.router.add_get("/", index)
    app.router.add_post("/greet", greet)
    app.router.add_post("/upload", upload)
    return app


app = make_app(Path(os.environ.get("UPLOAD_DIR", "uploads")))

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
