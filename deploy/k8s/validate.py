"""Check deploy/k8s/dagster-k8s-run-launcher.yaml against dagster-k8s, without a cluster.

    python deploy/k8s/validate.py [--launcher FILE] [--instance deploy/dagster.yaml] [--print-job]

Run it with a Python that has ``dagster==1.13.27`` and ``dagster-k8s==0.29.27`` installed (dagster-k8s is
not a dependency of this project; a throwaway venv will do, see docs/operations.md). It checks, and exits
non-zero at the first failure:

1. the block names a run launcher class that imports (``dagster_k8s.K8sRunLauncher``);
2. its ``config`` is valid for that class's config schema (``K8sRunLauncher.config_type()``, processed by
   Dagster's config system, as the instance does when it loads);
3. ``--instance`` with its ``run_launcher`` replaced by this block is still a valid instance configuration
   (Dagster's instance schema and its concurrency rules). The instance's ``{env: DAGSTER_PG_*}`` settings are
   given placeholder values for this check when they are not set;
4. the launcher builds the Kubernetes Job of a run the way ``launch_run`` does (the cluster connection is
   not loaded), and the Job passes the Kubernetes client's model validation; then the pod is checked: image,
   namespace, service account, CRM_HOME volume, resources, the ConfigMap of settings, and each of
   CRM_MASKING_KEY, CRM_WAREHOUSE_URL, CRM_SMTP_PASSWORD, DAGSTER_PG_PASSWORD taken from a Secret key.

``--print-job`` prints the Job manifest it built.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from unittest import mock

import yaml

HERE = Path(__file__).resolve().parent
SECRET_ENV = ("CRM_MASKING_KEY", "CRM_WAREHOUSE_URL", "CRM_SMTP_PASSWORD", "DAGSTER_PG_PASSWORD")
PG_PLACEHOLDERS = {
    "DAGSTER_PG_HOST": "postgres.invalid",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "placeholder",
}


class Invalid(Exception):
    pass


def _process(schema, value, what: str):
    from dagster._config import process_config, resolve_to_config_type

    result = process_config(resolve_to_config_type(schema), value)
    if not result.success:
        raise Invalid(f"{what} is not valid:\n" + "\n".join(f"  - {e.message}" for e in result.errors))
    return result.value


def check_schema(block: dict) -> tuple[type, dict]:
    """Steps 1 and 2: the class and its processed config."""
    from dagster._core.launcher import RunLauncher

    try:
        cls = getattr(importlib.import_module(block["module"]), block["class"])
    except (ImportError, AttributeError) as e:
        raise Invalid(f"run_launcher {block.get('module')}.{block.get('class')} does not import: {e}") from e
    if not issubclass(cls, RunLauncher):
        raise Invalid(f"{cls.__qualname__} is not a RunLauncher")
    return cls, _process(cls.config_type(), block.get("config", {}), f"{block['class']} config")


def check_instance(instance_file: Path, block: dict) -> None:
    """Step 3: the instance file with this launcher is a valid instance configuration."""
    from dagster._core.instance.config import dagster_instance_config_schema, validate_concurrency_config

    config = yaml.safe_load(instance_file.read_text())
    config["run_launcher"] = block
    for var, value in PG_PLACEHOLDERS.items():
        os.environ.setdefault(var, value)
    _process(dagster_instance_config_schema(), config, f"{instance_file} with this run_launcher")
    validate_concurrency_config(config)


def build_job(cls: type, config: dict):
    """Step 4: the Kubernetes Job a run of ``daily_pipeline`` would get."""
    import dagster_k8s.launcher as launcher_module
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import construct_dagster_k8s_job, get_job_name_from_run_id

    try:
        with mock.patch.object(launcher_module, "load_kubernetes_config"):  # no cluster to connect to
            launcher = cls.from_config_value(None, config)
        run = DagsterRun(job_name="daily_pipeline", run_id="0123456789abcdef0123456789abcdef")
        context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=True)
        job_config = context.get_k8s_job_config(job_image=None, run_launcher=launcher)
        name = get_job_name_from_run_id(run.run_id)
        job = construct_dagster_k8s_job(
            job_config=job_config,
            args=["dagster", "api", "execute_run", "{}"],
            job_name=name,
            pod_name=name,
            component="run_worker",
            user_defined_k8s_config=context.run_k8s_config,
            labels={"dagster/job": run.job_name, "dagster/run-id": run.run_id},
        )
    except Exception as e:  # the launcher's own checks and the Kubernetes models raise plain exceptions
        raise Invalid(f"the run's Kubernetes Job does not build: {type(e).__name__}: {e}") from e
    return launcher, context, job


def check_job(block_config: dict, launcher, context, job) -> list[str]:
    """What the pod of a run gets; returns lines describing it."""
    spec = job.spec.template.spec
    container = spec.containers[0]
    env = {e.name: e for e in container.env or []}
    problems = []
    if container.image != block_config["job_image"]:
        problems.append(f"image {container.image!r}, expected {block_config['job_image']!r}")
    if context.namespace != block_config["job_namespace"]:
        problems.append(f"namespace {context.namespace!r}")
    if spec.service_account_name != block_config["service_account_name"]:
        problems.append(f"service account {spec.service_account_name!r}")
    for var in SECRET_ENV:
        ref = env.get(var) and env[var].value_from and env[var].value_from.secret_key_ref
        if not ref or env[var].value:
            problems.append(f"{var} is not taken from a Secret key")
    if "DAGSTER_HOME" not in env:
        problems.append("DAGSTER_HOME is not set")
    config_maps = [s.config_map_ref.name for s in container.env_from or [] if s.config_map_ref]
    if not config_maps:
        problems.append("no ConfigMap of settings (env_config_maps)")
    mounts = {m.mount_path: m.name for m in container.volume_mounts or []}
    claims = {v.name: v.persistent_volume_claim.claim_name for v in spec.volumes or [] if v.persistent_volume_claim}
    if not any(name in claims for name in mounts.values()):
        problems.append("no persistent volume mounted (CRM_HOME)")
    if not (container.resources and container.resources.requests and container.resources.limits):
        problems.append("no resource requests and limits")
    if problems:
        raise Invalid("the run pod is not as intended:\n" + "\n".join(f"  - {p}" for p in problems))
    secrets = ", ".join(
        f"{v}<-{env[v].value_from.secret_key_ref.name}/{env[v].value_from.secret_key_ref.key}" for v in SECRET_ENV
    )
    return [
        f"job {job.metadata.name} in namespace {context.namespace}, image {container.image}",
        f"service account {spec.service_account_name}, DAGSTER_HOME {env['DAGSTER_HOME'].value}",
        f"secrets: {secrets}",
        f"settings from ConfigMap(s): {', '.join(config_maps)}",
        "volumes: " + ", ".join(f"{path} <- pvc {claims.get(name, name)}" for path, name in mounts.items()),
        f"resources: requests {container.resources.requests}, limits {container.resources.limits}",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--launcher", type=Path, default=HERE / "dagster-k8s-run-launcher.yaml")
    ap.add_argument("--instance", type=Path, default=HERE.parent / "dagster.yaml")
    ap.add_argument("--print-job", action="store_true")
    args = ap.parse_args(argv)
    try:
        import dagster
        import dagster_k8s
    except ImportError as e:
        print(f"dagster-k8s is not installed in this Python ({sys.executable}): {e}", file=sys.stderr)
        return 2
    block = yaml.safe_load(args.launcher.read_text())["run_launcher"]
    try:
        cls, config = check_schema(block)
        print(
            f"ok  {block['module']}.{block['class']} config is valid for its schema "
            f"(dagster {dagster.__version__}, dagster-k8s {dagster_k8s.__version__})"
        )
        check_instance(args.instance, block)
        print(f"ok  {args.instance} with this run_launcher is a valid instance configuration")
        launcher, context, job = build_job(cls, config)
        lines = check_job(block["config"], launcher, context, job)
        print("ok  the Kubernetes Job of a run builds and passes the client's model validation:")
        for line in lines:
            print(f"      {line}")
    except Invalid as e:
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    if args.print_job:
        from kubernetes.client import ApiClient

        print(yaml.safe_dump(ApiClient().sanitize_for_serialization(job), sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
