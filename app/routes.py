from aiohttp import web

from app import admin_views, health, views
from app.settings import ROOT


def setup(app: web.Application) -> None:
    app.router.add_get("/", views.home, name="home")
    app.router.add_get("/login", views.login_form, name="login")
    app.router.add_post("/login", views.login)
    app.router.add_post("/logout", views.logout, name="logout")
    app.router.add_get("/lang/{locale}", views.set_language)
    app.router.add_get("/p/{token}", views.redeem_link, name="party_link")
    app.router.add_get(r"/cases/{case_id:\d{1,9}}", views.case_page, name="case")
    app.router.add_get("/admin/outbox", views.outbox, name="outbox")
    app.router.add_get("/healthz", health.healthz)
    admin_views.setup(app)
    app.router.add_static("/static/", ROOT / "static", name="static")
