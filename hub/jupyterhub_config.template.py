# jupyterhub_config.py for a d2l-ts class, written by `d2l-ts hub` (from hub/jupyterhub_config.template.py).
# Run again with other flags to rewrite it, or edit it and start the hub yourself:
#     cd THIS_FOLDER && NODE_PATH=/usr/share/nodejs jupyterhub -f jupyterhub_config.py
# Debian's jupyterhub 3.0 and its node-configurable-http-proxy serve it; docs/hub.md explains every part.
import os
import sys

c = get_config()  # noqa: F821 (JupyterHub defines it)

# ---- the settings `d2l-ts hub` was given ------------------------------------------------------
HUB_DIR = @HUB_DIR@                  # this folder: the hub's database, cookie secret, logs, homes/
PROJECT = @PROJECT@                  # the d2l-ts checkout the kernel runs from (readable by every student)
KERNEL_PREFIX = @KERNEL_PREFIX@      # `d2l-ts install --prefix` put the kernelspec and nbextension here
IP = @IP@                            # where the proxy listens: 127.0.0.1 for one machine, 0.0.0.0 behind TLS
PORT = @PORT@                        # the port students open
AUTH = @AUTH@                        # "dummy": one shared password, no system users; "pam": system users
PASSWORD_ENV = @PASSWORD_ENV@        # dummy: the environment variable holding the shared password
API_TOKEN_ENV = @API_TOKEN_ENV@      # optional: a variable holding an admin API token (service "d2l-admin")
USERS = @USERS@                      # allowed users ([] with dummy: anyone who knows the password)
ADMINS = @ADMINS@                    # users with the hub's admin page
MEM_LIMIT = @MEM_LIMIT@              # per user (server + kernels), e.g. "2G"; None for no limit
CPU_LIMIT = @CPU_LIMIT@              # per user, in cores (a quota under cgroups); None for no limit
ASSIGNMENTS = @ASSIGNMENTS@          # student notebooks copied into each home as <folder>/<file> at spawn
UI = @UI@                            # "lab": d2l-ts's JupyterLab 4.6 (lab/, the default); "notebook": the classic Notebook 6.4

sys.path.insert(0, os.path.join(PROJECT, "hub"))
import d2l_hub  # noqa: E402  (hub/d2l_hub.py: spawners with limits, the assignment hook)

# ---- the hub and its proxy ----------------------------------------------------------------------
c.JupyterHub.ip = IP
c.JupyterHub.port = PORT
# The hub's own API and the proxy's API stay on 127.0.0.1, on ports free at start (not 8081/8001,
# which another hub or test on this machine may hold).
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = d2l_hub.free_port()
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:%d" % d2l_hub.free_port()
# Debian's configurable-http-proxy imports its modules from /usr/share/nodejs, which a Node.js
# from elsewhere (NodeSource, nvm) does not search.
os.environ["NODE_PATH"] = os.pathsep.join(p for p in ["/usr/share/nodejs", os.environ.get("NODE_PATH", "")] if p)
c.JupyterHub.db_url = "sqlite:///" + os.path.join(HUB_DIR, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(HUB_DIR, "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = os.path.join(HUB_DIR, "jupyterhub-proxy.pid")
# Stopping the hub stops every student's server (and so their kernels).
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# ---- who may log in -----------------------------------------------------------------------------
if AUTH == "dummy":
    # JupyterHub's DummyAuthenticator with a shared password: for tests and trials, never for a class
    # on a network (anyone with the password is whoever they say).
    c.JupyterHub.authenticator_class = "dummy"
    password = os.environ.get(PASSWORD_ENV or "", "")
    if not password:
        raise SystemExit("d2l-hub: the dummy authenticator needs a shared password in $%s" % PASSWORD_ENV)
    c.DummyAuthenticator.password = password
    c.JupyterHub.spawner_class = d2l_hub.D2lSimpleSpawner
    c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(HUB_DIR, "homes", "{username}")
else:
    # PAM: students log in with their system account; each server runs as that user in their home.
    # The hub must run as root (it switches to each user); create the accounts first (adduser).
    c.JupyterHub.authenticator_class = "pam"
    c.JupyterHub.spawner_class = d2l_hub.D2lLocalSpawner
    c.LocalProcessSpawner.create_system_users = False
if USERS:
    c.Authenticator.allowed_users = set(USERS)
if ADMINS:
    c.Authenticator.admin_users = set(ADMINS)
if API_TOKEN_ENV:
    token = os.environ.get(API_TOKEN_ENV, "")
    if not token:
        raise SystemExit("d2l-hub: --api-token-env names $%s, which is empty" % API_TOKEN_ENV)
    # A service holding the admin role: creates users, starts servers, reaches their kernels (scripts, tests).
    c.JupyterHub.services = [{"name": "d2l-admin", "api_token": token}]
    c.JupyterHub.load_roles = [{"name": "admin", "services": ["d2l-admin"]}]

# ---- each student's server ----------------------------------------------------------------------
# The d2l-ts kernel for every user: the kernelspec (and the Notebook's TypeScript nbextension) in a
# prefix that every single-user server searches.
c.Spawner.environment = {
    "JUPYTER_PATH": os.path.join(KERNEL_PREFIX, "share", "jupyter"),
    "JUPYTER_CONFIG_PATH": os.path.join(KERNEL_PREFIX, "etc", "jupyter"),
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}
# The hub's D2L_* settings (D2L_QUICK, D2L_DATA_DIR, D2L_BACKEND, ...) reach every kernel.
c.Spawner.env_keep = ["PATH", "PYTHONPATH", "LANG", "LC_ALL"]
c.Spawner.env_keep += sorted(k for k in os.environ if k.startswith("D2L_"))
if UI == "lab":
    # jupyter-server with d2l-ts's JupyterLab (lab/d2l_lab) as its extension, opening at /lab
    c.Spawner.environment["JUPYTERHUB_SINGLEUSER_APP"] = "jupyter_server.serverapp.ServerApp"
    c.Spawner.environment["PYTHONPATH"] = os.path.join(PROJECT, "lab")
    c.Spawner.default_url = "/lab"
    # (d2l-ts hub enabled the extension in KERNEL_PREFIX/etc/jupyter/jupyter_server_config.d/d2l_lab.json)
    c.Spawner.args = ["--ServerApp.terminals_enabled=False", "--MappingKernelManager.default_kernel_name=d2l-ts"]
else:
    # Debian's classic Notebook 6.4
    c.Spawner.environment["JUPYTERHUB_SINGLEUSER_APP"] = "notebook.notebookapp.NotebookApp"
    c.Spawner.default_url = "/tree"
    c.Spawner.args = ["--MappingKernelManager.default_kernel_name=d2l-ts"]
if AUTH == "dummy" and os.getuid() == 0:
    c.Spawner.args.append("--allow-root")  # no system users: the servers run as the hub's user, root here
# Many students start at once on a small machine: give each server time.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120
c.Spawner.mem_limit = MEM_LIMIT
c.Spawner.cpu_limit = CPU_LIMIT
if ASSIGNMENTS:
    c.Spawner.pre_spawn_hook = d2l_hub.release_assignments(ASSIGNMENTS)
