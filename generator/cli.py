"""`payspec`: validate, bundle and generate from the gateway's OpenAPI spec.

Heavy imports (validators, the model generator) happen inside the commands
that need them, so that `payspec generate` on an unchanged project answers
in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import freshness
from .config import Config, ConfigError, VersionConfig, find_config
from .problems import SpecError

if TYPE_CHECKING:
    from .model import ApiModel
    from .output import OutputTree

CACHE_FOLDER = ".payspec-cache"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except SpecError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"payspec: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payspec", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check specs; print one line per problem")
    validate.add_argument(
        "specs", nargs="*", metavar="VERSION|PATH", help="version names or spec folders (default: all)"
    )
    validate.set_defaults(run=_validate)

    bundle = commands.add_parser("bundle", help="write the single-file specs and test vectors under generated/spec/")
    bundle.add_argument("versions", nargs="*", metavar="VERSION")
    bundle.add_argument("--check", action="store_true", help="write nothing; exit 1 listing stale files")
    bundle.set_defaults(run=_bundle)

    generate = commands.add_parser("generate", help="write everything under generated/ (specs, SDKs)")
    generate.add_argument("versions", nargs="*", metavar="VERSION")
    generate.add_argument("--check", action="store_true", help="write nothing; exit 1 listing stale files")
    generate.add_argument("--templates", type=Path, metavar="DIR", help="templates that override the built-in ones")
    generate.set_defaults(run=_generate)

    serve = commands.add_parser("serve", help="run the sandbox gateway (both versions) on one address")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--db", default="payspec-sandbox.db", help="SQLite file (default: %(default)s), or :memory:")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (they share the --db file)")
    serve.add_argument("--time-scale", type=float, default=1.0, help="multiply notification retry delays (0.001: tests)")
    serve.add_argument("--processing-ms", type=int, default=2000, help="how long payouts and refunds stay PENDING")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(run=_serve)
    return parser


def _targets(config: Config | None, names: Sequence[str]) -> list[tuple[str, Path]]:
    if not names:
        if config is None:
            raise ConfigError("no spec given and no [tool.payspec] config found")
        return [(v.name, v.spec) for v in config.versions]
    targets = []
    for name in names:
        path = Path(name)
        if path.exists():
            targets.append((path.resolve().name if path.is_dir() else path.resolve().parent.name, path))
        elif config is not None:
            targets.append((_version(config, name).name, _version(config, name).spec))
        else:
            raise ConfigError(f"{name}: no such spec folder")
    return targets


def _version(config: Config, name: str) -> VersionConfig:
    try:
        return config.version(name)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from exc


def _optional_config() -> Config | None:
    try:
        return find_config()
    except ConfigError:
        return None


def _validate(args: argparse.Namespace) -> int:
    from .loader import load_model

    problems = []
    for name, path in _targets(_optional_config(), args.specs):
        try:
            model = load_model(path, name)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        print(f"{name}: ok - {len(model.operations)} operations, {len(model.notifications)} notifications")
    if problems:
        raise SpecError(problems)
    return 0


def _load_all(config: Config, names: Sequence[str]) -> list[tuple[VersionConfig, ApiModel]]:
    from .loader import load_model

    versions = [_version(config, n) for n in names] if names else list(config.versions)
    loaded, problems = [], []
    for version in versions:
        try:
            loaded.append((version, load_model(version.spec, version.name)))
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    return loaded


def _bundle(args: argparse.Namespace) -> int:
    from .emitters.spec import emit_spec
    from .output import OutputTree

    config = find_config()
    tree = OutputTree(config.output)
    for version, model in _load_all(config, args.versions):
        emit_spec(model, version.spec, tree)
    return _finish(tree, args.check)


def _generate(args: argparse.Namespace) -> int:
    from .render import BUILTIN_TEMPLATES

    config = find_config()
    if args.templates is not None and not args.templates.is_dir():
        raise ConfigError(f"--templates {args.templates}: no such folder")
    template_dirs = [*([args.templates.resolve()] if args.templates else []), BUILTIN_TEMPLATES]
    key = json.dumps({"versions": sorted(args.versions), "templates": [str(t) for t in template_dirs]})
    record = freshness.record_path(config.root / CACHE_FOLDER, key)
    if freshness.still_fresh(record, config.output, template_dirs):
        print("up to date")
        return 0

    import jinja2

    from .emitters.python_sdk import SdkError, emit_python_sdk
    from .emitters.spec import emit_spec
    from .output import OutputTree
    from .render import environment

    env = environment(args.templates)
    tree = OutputTree(config.output)
    inputs = [config.root / "pyproject.toml", *freshness.toolkit_files(template_dirs)]
    for version, model in _load_all(config, args.versions):
        emit_spec(model, version.spec, tree)
        spec = version.spec.resolve()
        label = spec.relative_to(config.root).as_posix() if spec.is_relative_to(config.root) else version.name
        try:
            emit_python_sdk(model, version.package, label, env, tree, config.root / CACHE_FOLDER)
        except (SdkError, jinja2.TemplateError) as exc:
            raise ConfigError(f"{version.name}: cannot generate the SDK: {exc}") from exc
        inputs += model.sources
    status = _finish(tree, args.check)
    if status == 0:
        freshness.save(record, inputs, tree.files, tree.owned)
    return status


def _serve(args: argparse.Namespace) -> int:
    import logging
    import os

    import uvicorn

    if args.db == ":memory:" and args.workers > 1:
        raise ConfigError("--db :memory: cannot be shared by several --workers; give a file")
    if args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    os.environ.update(
        PAYSPEC_DB=args.db if args.db == ":memory:" else str(Path(args.db).resolve()),
        PAYSPEC_TIME_SCALE=str(args.time_scale),
        PAYSPEC_PROCESSING_MS=str(args.processing_ms),
    )
    logging.basicConfig(level=args.log_level.upper(), format="%(message)s")
    uvicorn.run(
        "simulator.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
    )
    return 0


def _finish(tree: OutputTree, check: bool) -> int:
    if check:
        changes = tree.changes()
        for change in changes:
            print(f"{tree.root.name}/{change}", file=sys.stderr)
        if changes:
            print(f"{len(changes)} stale file(s): run `payspec generate`", file=sys.stderr)
        return 1 if changes else 0
    changes = tree.write()
    print(f"{len(changes)} file(s) written" if changes else "up to date")
    return 0
