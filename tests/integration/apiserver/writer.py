"""Creates ConfigMaps one after another and appends "name resourceVersion" to ACKS after each
acknowledged create, until the server goes away. Usage: writer.py KUBECONFIG ACKS"""
import sys

from kubernetes import client, config

config.load_kube_config(sys.argv[1])
cfg = client.Configuration.get_default_copy()
cfg.retries = 0
v1 = client.CoreV1Api(client.ApiClient(cfg))
with open(sys.argv[2], "a") as acks:
    i = 0
    while i < 100000:
        try:
            cm = v1.create_namespaced_config_map("default", {"metadata": {"name": "w%d" % i}},
                                                 _request_timeout=5)
        except Exception:
            sys.exit(0)
        acks.write("%s %s\n" % (cm.metadata.name, cm.metadata.resource_version))
        acks.flush()
        i += 1
