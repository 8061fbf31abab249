#!/usr/bin/python3
"""config_copy — a benchmark's copy of a cluster config: the first NODES
nodes, every port shifted by OFFSET, data (and the admin secret) under
DATA_DIR, no gateway, and each KEY=VALUE (VALUE in JSON) set at the top
level. Used by the scripts beside it so that a benchmark cluster runs on
ports of its own.

    config_copy.py SOURCE TARGET DATA_DIR NODES OFFSET [KEY=VALUE]...
"""
import json
import sys


def main(source, target, data_dir, nodes, offset, *settings):
    with open(source) as handle:
        config = json.load(handle)
    config["nodes"] = config["nodes"][:int(nodes)]
    for node in config["nodes"]:
        for key in ("client_port", "peer_port", "pub_port", "http_port"):
            if key in node:
                node[key] += int(offset)
    config.pop("gateway", None)
    config["data_dir"] = data_dir
    config["admin_secret_file"] = data_dir + "/admin.secret"
    for setting in settings:
        key, value = setting.split("=", 1)
        config[key] = json.loads(value)
    with open(target, "w") as handle:
        json.dump(config, handle, indent=1)


if __name__ == "__main__":
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    main(*sys.argv[1:])
