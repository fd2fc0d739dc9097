#!/usr/bin/env python3
"""Turns `docker compose config --format json` (the overlays merged, variables filled in) into
a file `docker stack deploy` accepts: the same services, volumes and deploy keys, without what
the Swarm loader rejects or ignores (build sections, the project name, depends_on conditions:
Swarm restarts a task until its dependencies answer) and with the types it wants. A GPU that
compose reserves as a device (the Higgs worker) becomes Swarm's generic resource NVIDIA-GPU,
which a GPU node advertises in its daemon.json (docs/higgs-worker.md).

Every service is found by DNS round-robin (endpoint_mode dnsrr) instead of a virtual IP, and the
gateway's port is published on the node itself (mode host): Swarm's virtual IPs and its ingress
routing mesh need the kernel's IPVS, which not every host has (this project's test machines do
not), and a TLS proxy in front of each node's gateway does the same job. A port on the node
admits one task at a time, so a service that publishes one updates stop-first."""
import json
import sys

config = json.load(sys.stdin)
config.pop("name", None)
for service in config.get("services", {}).values():
    for key in [k for k, v in service.items() if v is None]:
        del service[key]
    service.pop("build", None)
    service.pop("pull_policy", None)
    depends = service.pop("depends_on", None)
    if depends:
        service["depends_on"] = sorted(depends)
    reservations = service.get("deploy", {}).get("resources", {}).get("reservations", {})
    gpus = sum(int(d.get("count", 1)) for d in reservations.pop("devices", [])
               if "gpu" in d.get("capabilities", []))
    if gpus:
        reservations["generic_resources"] = [
            {"discrete_resource_spec": {"kind": "NVIDIA-GPU", "value": gpus}}]
    limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
    if "cpus" in limits:
        limits["cpus"] = str(limits["cpus"])
    service.setdefault("deploy", {})["endpoint_mode"] = "dnsrr"
    for port in service.get("ports", []):
        if isinstance(port, dict) and "published" in port:
            port["published"] = int(port["published"])
            port["mode"] = "host"
            for key in ("update_config", "rollback_config"):
                if key in service["deploy"]:
                    service["deploy"][key]["order"] = "stop-first"
for network in config.get("networks", {}).values():
    network.pop("name", None)
    # Swarm's networks are overlays; a stack names its own.
    if network.get("driver") in (None, "bridge"):
        network["driver"] = "overlay"
for volume in config.get("volumes", {}).values():
    volume.pop("name", None)
config["version"] = "3.9"
json.dump(config, sys.stdout, indent=1)
