#!/usr/bin/env bash
# Checks docker-compose.yml, the Dockerfile and the nginx template without a
# Docker engine: `docker-compose config` validates the file against the
# Compose schema and resolves it with .env.example, then Python asserts the
# deployment's contract (services, health checks, ports, volumes,
# depends_on, secrets from the env file). scripts/ensure-tools.sh installs
# docker-compose and python3-yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v docker-compose >/dev/null 2>&1 || {
  echo "check-compose: docker-compose is not installed; run scripts/ensure-tools.sh" >&2
  exit 1
}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
resolved=$(mktemp)
trap 'rm -f "$resolved"' EXIT
docker-compose --project-directory . -f docker-compose.yml --env-file .env.example \
  config >"$resolved"
"$py" - "$resolved" <<'PY'
import re
import sys

import yaml

resolved = yaml.safe_load(open(sys.argv[1]))
raw_text = open("docker-compose.yml").read()
raw = yaml.safe_load(raw_text)
kc_version = open("keycloak/VERSION").read().strip()
errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)


def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return env


def depends(svc):
    d = svc.get("depends_on") or {}
    if isinstance(d, list):
        return {name: "service_started" for name in d}
    return {name: (v or {}).get("condition", "service_started") for name, v in d.items()}


def published(svc):
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.append((str(p.get("published")), int(p["target"])))
        else:
            host, _, target = str(p).rpartition(":")
            out.append((host, int(target)))
    return out


services = resolved.get("services", {})
check(set(services) == {"postgres", "keycloak", "kc-scim-bootstrap", "kc-scim", "proxy"},
      f"services are {sorted(services)}")
for name, svc in services.items():
    if name != "kc-scim-bootstrap":
        check("healthcheck" in svc, f"{name}: no healthcheck")
    if name != "proxy":
        check(not svc.get("ports"), f"{name}: publishes ports; only the proxy may")

pg = services.get("postgres", {})
check(str(pg.get("image", "")).startswith("postgres:"), "postgres: not the postgres image")
pg_mounts = pg.get("volumes") or []
check(any((m.get("type"), m.get("source"), m.get("target")) == ("volume", "pgdata", "/var/lib/postgresql/data")
          if isinstance(m, dict) else str(m).startswith("pgdata:/var/lib/postgresql/data")
          for m in pg_mounts), f"postgres: data not on the named volume pgdata: {pg_mounts}")
check("pgdata" in (resolved.get("volumes") or {}), "volume pgdata is not declared")
check("pg_isready" in str(pg.get("healthcheck", {}).get("test")), "postgres: health check is not pg_isready")

kc = services.get("keycloak", {})
kc_env = env_of(kc)
check(kc.get("image") == f"quay.io/keycloak/keycloak:{kc_version}",
      f"keycloak: image {kc.get('image')} is not quay.io/keycloak/keycloak:{kc_version} (keycloak/VERSION)")
check(kc.get("command") == ["start"], f"keycloak: command {kc.get('command')} is not production mode ['start']")
check(kc_env.get("KC_DB") == "postgres", "keycloak: KC_DB is not postgres")
check("postgres:5432" in kc_env.get("KC_DB_URL", ""), "keycloak: KC_DB_URL does not point at postgres")
check(kc_env.get("KC_HEALTH_ENABLED") == "true", "keycloak: health not enabled")
check(kc_env.get("KC_HTTP_ENABLED") == "true", "keycloak: HTTP listener not enabled behind the proxy")
check(kc_env.get("KC_PROXY_HEADERS") == "xforwarded", "keycloak: KC_PROXY_HEADERS is not xforwarded")
check(bool(kc_env.get("KC_HOSTNAME")), "keycloak: KC_HOSTNAME not set")
kc_health = " ".join(map(str, kc.get("healthcheck", {}).get("test") or []))
check("9000" in kc_health and "/health/ready" in kc_health,
      "keycloak: health check does not ask /health/ready on the management port 9000")
check(depends(kc).get("postgres") == "service_healthy", "keycloak: does not wait for a healthy postgres")

scim = services.get("kc-scim", {})
scim_env = env_of(scim)
check("build" in scim, "kc-scim: not built from the Dockerfile")
check(scim.get("healthcheck", {}).get("test") == ["CMD", "kc-scim", "healthcheck"],
      "kc-scim: health check is not [CMD, kc-scim, healthcheck]")
check(scim.get("command") in (None, ["serve"]), "kc-scim: does not run serve")
check(depends(scim) == {"keycloak": "service_healthy", "kc-scim-bootstrap": "service_completed_successfully"},
      f"kc-scim: depends_on {depends(scim)}")
check(scim_env.get("KCSCIM_KEYCLOAK__URL") == "http://keycloak:8080", "kc-scim: KCSCIM_KEYCLOAK__URL")
check(scim_env.get("KCSCIM_KEYCLOAK__PUBLIC_URL") == kc_env.get("KC_HOSTNAME"),
      "kc-scim: public URL differs from Keycloak's KC_HOSTNAME (issuer and Tenant URL would disagree)")
scim_port = scim_env.get("KCSCIM_HTTP__BIND", "").rpartition(":")[2]
check(scim_env.get("KCSCIM_HTTP__BIND", "").startswith("0.0.0.0:"), "kc-scim: does not listen on 0.0.0.0")
creds = ("KCSCIM_KEYCLOAK__CLIENT_ID" in scim_env) or ("KCSCIM_KEYCLOAK__USERNAME" in scim_env)
check(creds, "kc-scim: no Keycloak admin credentials")

boot = services.get("kc-scim-bootstrap", {})
cmd = boot.get("command") or []
check(cmd[:2] == ["bootstrap", "--realm"] and "--template" in cmd and cmd[cmd.index("--template") + 1] == "passwordless"
      if "--template" in cmd else False, f"kc-scim-bootstrap: command {cmd}")
check(boot.get("restart") in ("no", None), "kc-scim-bootstrap: must be one-shot (restart: no)")
check(depends(boot).get("keycloak") == "service_healthy", "kc-scim-bootstrap: does not wait for Keycloak")
check(boot.get("image") == scim.get("image") and env_of(boot) == scim_env,
      "kc-scim-bootstrap: not the same image and settings as kc-scim")
check(cmd[cmd.index("--realm") + 1] in scim_env.get("KCSCIM_REALMS", "").split(",") if "--realm" in cmd else False,
      "kc-scim: KCSCIM_REALMS does not name the bootstrapped realm")

proxy = services.get("proxy", {})
proxy_env = env_of(proxy)
check(str(proxy.get("image", "")).startswith("nginx:"), "proxy: not nginx")
ports = published(proxy)
check(len(ports) == 1 and ports[0][1] == 80, f"proxy: ports {ports}, expected one published port to 80")
check(proxy_env.get("PROXY_LISTEN") == "80", "proxy: PROXY_LISTEN is not 80")
check(proxy_env.get("KEYCLOAK_UPSTREAM") == "keycloak:8080", "proxy: KEYCLOAK_UPSTREAM is not keycloak:8080")
check(proxy_env.get("KCSCIM_UPSTREAM") == f"kc-scim:{scim_port}", "proxy: KCSCIM_UPSTREAM does not match kc-scim's port")
check(any(isinstance(m, dict) and m.get("target") == "/etc/nginx/templates"
          and str(m.get("source", "")).endswith("deploy/nginx/templates")
          or str(m).endswith("deploy/nginx/templates:/etc/nginx/templates:ro")
          for m in proxy.get("volumes") or []), "proxy: deploy/nginx/templates not mounted at /etc/nginx/templates")
check(depends(proxy) == {"keycloak": "service_healthy", "kc-scim": "service_healthy"},
      f"proxy: depends_on {depends(proxy)}")

# Secrets come from the env file: no literal password in docker-compose.yml,
# and every variable the file requires is in .env.example.
for name, svc in (raw.get("services") or {}).items():
    for key, value in env_of(svc).items():
        if re.search(r"PASSWORD|SECRET", key):
            check(isinstance(value, str) and value.startswith("${"),
                  f"{name}: {key} is a literal, not a variable from .env")
example = {line.split("=", 1)[0] for line in open(".env.example")
           if re.match(r"^[A-Z_][A-Z0-9_]*=", line)}
required = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):\?", raw_text))
check(required <= example, f".env.example lacks {sorted(required - example)}")

# The image: multi-stage, non-root, the health check compose relies on.
dockerfile = open("Dockerfile").read()
froms = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", dockerfile, re.M | re.I)
check(len(froms) >= 2 and froms[0][0].startswith("rust:"), f"Dockerfile: stages {froms}, expected a rust builder first")
users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
check(bool(users) and users[-1].split(":")[0] not in ("root", "0"), "Dockerfile: runtime user is root")
check(re.search(r'^HEALTHCHECK\b.*CMD \["kc-scim", ?"healthcheck"\]', dockerfile, re.M | re.S) is not None,
      'Dockerfile: no HEALTHCHECK CMD ["kc-scim","healthcheck"]')

# The nginx template: exactly the three placeholders the compose file sets.
template = open("deploy/nginx/templates/default.conf.template").read()
placeholders = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", template))
check(placeholders == {"PROXY_LISTEN", "KEYCLOAK_UPSTREAM", "KCSCIM_UPSTREAM"},
      f"nginx template placeholders {sorted(placeholders)}")
check(placeholders <= set(proxy_env), "proxy: a template placeholder has no value in the compose file")
# Both sidecar paths go to kc-scim: SCIM and the admin page.
check(re.search(r"location ~ \^/realms/\[\^/\]\+/scim/\(v2\|admin\)\(/\|\$\)", template) is not None,
      "nginx template: /realms/<realm>/scim/(v2|admin) is not routed to kc-scim")
check("KCSCIM_ADMIN__COOKIE_KEY" in scim_env,
      "kc-scim: no KCSCIM_ADMIN__COOKIE_KEY (replicas must share the admin page's cookie key)")

if errors:
    print("docker-compose.yml check failed:", file=sys.stderr)
    for e in errors:
        print(f"  - {e}", file=sys.stderr)
    sys.exit(1)
print(f"compose: ok ({len(services)} services, keycloak {kc_version})")
PY
