"""Sub-applications and reversed URLs: a blog and an admin area, each an Application of
its own under a prefix of the main one, linked to each other with ``url_for``.

Serve it natively with ``python examples/subapps.py`` (port 8080, or ``PORT``), or with an
ASGI server: ``uvicorn examples.subapps:app``; then::

    curl localhost:8080/                  # links built from route names
    curl localhost:8080/blog/posts/hello  # a route of the blog sub-application
    curl localhost:8080/admin/            # the admin's own middleware adds a header

A sub-application's route names are its own: the parent reaches them through the
sub-application (kept under an ``AppKey``), and a sub-application reaches the parent's
through ``request.config_dict``.
"""

from __future__ import annotations

import os

from asgiweb import web
from asgiweb.typedefs import Handler

blog_key = web.AppKey("blog", web.Application)
main_key = web.AppKey("main", web.Application)
site_name_key = web.AppKey("site_name", str)

POSTS = {"hello": "Hello, world", "subapps": "Sub-applications in asgiweb"}


# -- the blog, mounted at /blog/ ------------------------------------------------------------


async def post_list(request: web.Request) -> web.Response:
    # request.app is the blog here: its router knows "post", the parent's does not.
    router = request.app.router
    links = {slug: str(router["post"].url_for(slug=slug)) for slug in POSTS}
    return web.json_response({"posts": links})


async def post(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    if slug not in POSTS:
        raise web.HTTPNotFound(text=f"no post {slug!r}")
    home = request.config_dict[main_key].router["index"].url_for()
    return web.json_response(
        {
            "title": POSTS[slug],
            "site": request.config_dict[site_name_key],  # the parent's state, looked up
            "home": str(home),
        }
    )


def make_blog() -> web.Application:
    blog = web.Application()
    blog.router.add_get("/posts", post_list, name="posts")
    blog.router.add_get("/posts/{slug}", post, name="post")
    return blog


# -- the admin area, mounted at /admin/, with a middleware of its own --------------------------


@web.middleware
async def no_store(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers["Cache-Control"] = "no-store"  # only the admin's responses
    return response


async def dashboard(request: web.Request) -> web.Response:
    return web.json_response({"admin": True, "self": str(request.rel_url)})


def make_admin() -> web.Application:
    admin = web.Application(middlewares=[no_store])
    admin.router.add_get("/", dashboard, name="dashboard")
    return admin


# -- the main application ---------------------------------------------------------------------


async def index(request: web.Request) -> web.Response:
    blog_router = request.app[blog_key].router
    links = {
        "self": request.app.router["index"].url_for(),
        # A sub-application's route, built from the parent: the URL has the prefix.
        "posts": blog_router["posts"].url_for(),
        "first_post": blog_router["post"].url_for(slug="hello").with_query(ref="home"),
    }
    return web.json_response({name: str(url) for name, url in links.items()})


def make_app() -> web.Application:
    app = web.Application()
    app[site_name_key] = "asgiweb demo"
    app.router.add_get("/", index, name="index")
    app[blog_key] = make_blog()
    app[blog_key][main_key] = app
    app.add_subapp("/blog/", app[blog_key])
    app.add_subapp("/admin/", make_admin())
    return app


app = make_app()

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
