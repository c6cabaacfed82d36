"""A small JSON API: class-based views, typed application state, bearer-token auth.

Serve it natively with ``python examples/json_api.py`` (port 8080, or ``PORT``), or with
an ASGI server: ``uvicorn examples.json_api:app``. Then::

    curl -H 'Authorization: Bearer ann-token' localhost:8080/notes
    curl -H 'Authorization: Bearer ann-token' -d '{"text": "buy milk"}' localhost:8080/notes
    curl -H 'Authorization: Bearer ann-token' localhost:8080/notes/1
    curl localhost:8080/notes            # 401: no token

Every request needs a token from ``TOKENS``; the middleware puts the user's name on the
request, and each user sees only their own notes.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from asgiweb import web
from asgiweb.typedefs import Handler

# Demo credentials: a real service would look tokens up in a database.
TOKENS = {"ann-token": "ann", "bob-token": "bob"}


@dataclass
class Note:
    id: int
    owner: str
    text: str


@dataclass
class NoteStore:
    """Notes in memory, numbered from 1."""

    notes: dict[int, Note] = field(default_factory=dict)
    last_id: int = 0

    def add(self, owner: str, text: str) -> Note:
        self.last_id += 1
        note = self.notes[self.last_id] = Note(self.last_id, owner, text)
        return note

    def owned_by(self, owner: str) -> list[Note]:
        return [note for note in self.notes.values() if note.owner == owner]


store_key = web.AppKey("store", NoteStore)
tokens_key = web.AppKey("tokens", dict[str, str])
user_key = web.RequestKey("user", str)


def json_error(
    exc_class: type[web.HTTPException], message: str, **kwargs: Any
) -> web.HTTPException:
    """An HTTP error whose body is ``{"error": message}``, as the rest of the API answers."""
    return exc_class(text=json.dumps({"error": message}), content_type="application/json", **kwargs)


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise json_error(
            web.HTTPUnauthorized, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    user = request.app[tokens_key].get(token)
    if user is None:
        raise json_error(
            web.HTTPUnauthorized,
            "invalid token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    request[user_key] = user
    return await handler(request)


class NotesView(web.View):
    """``/notes``: list your notes, or add one."""

    async def get(self) -> web.Response:
        notes = self.request.app[store_key].owned_by(self.request[user_key])
        return web.json_response([asdict(note) for note in notes])

    async def post(self) -> web.Response:
        try:
            body = await self.request.json()
        except ValueError:
            raise json_error(web.HTTPBadRequest, "the body is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise json_error(web.HTTPBadRequest, 'expected {"text": "..."}')
        note = self.request.app[store_key].add(self.request[user_key], body["text"])
        location = self.request.app.router["note"].url_for(id=str(note.id))
        return web.json_response(asdict(note), status=201, headers={"Location": str(location)})


class NoteView(web.View):
    """``/notes/{id}``: read or delete one of your notes."""

    def _note(self) -> Note:
        note = self.request.app[store_key].notes.get(int(self.request.match_info["id"]))
        # Someone else's note is as absent as a missing one: ids reveal nothing.
        if note is None or note.owner != self.request[user_key]:
            raise json_error(web.HTTPNotFound, "no such note")
        return note

    async def get(self) -> web.Response:
        return web.json_response(asdict(self._note()))

    async def delete(self) -> web.Response:
        del self.request.app[store_key].notes[self._note().id]
        return web.Response(status=204)


def make_app() -> web.Application:
    app = web.Application(middlewares=[bearer_auth])
    app[store_key] = NoteStore()
    app[tokens_key] = dict(TOKENS)
    app.router.add_view("/notes", NotesView, name="notes")
    app.router.add_view(r"/notes/{id:\d+}", NoteView, name="note")
    return app


app = make_app()

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
