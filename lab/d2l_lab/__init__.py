"""Serve the d2l-ts JupyterLab application (lab/build/, built by rspack) with Debian's
jupyter-server 1.23 and jupyterlab-server 2.16.

Run as ``/usr/bin/python3 -m d2l_lab --ServerApp.root_dir=DIR ...`` with ``lab/`` on PYTHONPATH
(``d2l-ts lab`` does this). JupyterLab 4.6's front end also calls two endpoints that only
jupyter-server 2 has: ``/api/me`` (answered here) and the ``/api/events/subscribe`` websocket
(accepted here and kept silent: jupyter-server 1.x has no event bus).
"""
import json
import os

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.zmqhandlers import WebSocketMixin
from jupyterlab_server import LabServerApp
from tornado import web, websocket

HERE = os.path.dirname(os.path.abspath(__file__))
LAB = os.path.dirname(HERE)
BUILD = os.path.join(LAB, "build")
# User settings and workspaces: writable, and outside build/ (a rebuild must not wipe them).
STATE = os.environ.get("D2L_LAB_STATE") or os.path.join(os.path.expanduser("~"), ".local", "share", "d2l-ts", "lab")


def _app_version():
    try:
        with open(os.path.join(LAB, "node_modules", "@jupyterlab", "application", "package.json"), encoding="utf-8") as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return "4.6"


class MeHandler(APIHandler):
    """GET /api/me: the identity JupyterLab's UserManager asks for (jupyter-server 2's IdentityProvider)."""

    @web.authenticated
    def get(self):
        # Under JupyterHub the user is the hub's model (a dict with the student's name); with a token,
        # jupyter-server 1.x's user is an anonymous id: show a plain name instead.
        user = self.current_user
        student = user.get("name") if isinstance(user, dict) else os.environ.get("JUPYTERHUB_USER")
        if isinstance(student, str) and student:
            identity = {"username": student, "name": student, "display_name": student, "initials": student[:1].upper(), "avatar_url": None, "color": None}
        else:
            username = user if isinstance(user, str) else "d2l"
            identity = {"username": username, "name": "d2l-ts", "display_name": "d2l-ts", "initials": "D", "avatar_url": None, "color": None}
        self.finish(json.dumps({"identity": identity, "permissions": {}}))


class EventsHandler(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):
    """/api/events/subscribe: accepted (for a logged-in user) and never sent anything."""

    def get(self, *args, **kwargs):
        if self.current_user is None:
            raise web.HTTPError(403)
        return super().get(*args, **kwargs)

    def on_message(self, message):
        pass


class D2lLab(LabServerApp):
    name = "d2l_lab"  # not __name__: that is "__main__" under -m, and the static URL is /static/<name>
    description = "JupyterLab (d2l-ts)"
    extension_url = "/lab"
    default_url = "/lab"
    app_url = "/lab"
    load_other_extensions = False
    app_name = "JupyterLab (d2l-ts)"
    app_version = _app_version()
    static_dir = BUILD
    schemas_dir = os.path.join(BUILD, "schemas")
    themes_dir = os.path.join(BUILD, "themes")
    app_settings_dir = LAB  # lab/overrides.json: the app's default settings
    templates_dir = os.path.join(HERE, "templates")
    user_settings_dir = os.path.join(STATE, "settings")
    workspaces_dir = os.path.join(STATE, "workspaces")
    labextensions_path = []  # prebuilt (pip/Debian) labextensions cannot join this bundle

    def initialize_handlers(self):
        super().initialize_handlers()
        self.handlers.append((r"/api/me", MeHandler))
        self.handlers.append((r"/api/events/subscribe", EventsHandler))

    def initialize_settings(self):
        if not os.path.isfile(os.path.join(BUILD, "bundle.js")):
            raise SystemExit(f"d2l_lab: the JupyterLab bundle is missing ({BUILD}/bundle.js): run `npm run build:lab`")
        super().initialize_settings()
        self.serverapp.web_app.settings.setdefault("page_config_data", {})["exposeAppInBrowser"] = True


def _jupyter_server_extension_points():
    return [{"module": "d2l_lab", "app": D2lLab}]


main = launch_new_instance = D2lLab.launch_instance
