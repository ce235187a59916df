"""`payspec`: validate, bundle and generate from the gateway's OpenAPI spec.

Heavy imports (validators, the model generator) happen inside the commands
that need them, so that `payspec generate` on an unchanged project answers
in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from . import freshness
from .config import BUILTIN_TEMPLATES, Config, ConfigError, VersionConfig, find_config
from .problems import Location, Problem, SpecError

if TYPE_CHECKING:
    import jinja2

    from .bundle import Bundle
    from .emitters.models import ModelJob
    from .model import ApiModel
    from .output import OutputTree

CACHE_FOLDER = ".payspec-cache"


def main(argv: Sequence[str] | None = None) -> int:
    return _run(_parser().parse_args(argv))


def entry() -> NoReturn:
    """The `payspec` command (and `python -m generator`): `main`, then exit.

    The file-writing commands exit without tearing the interpreter down: their
    work is written and flushed, and freeing what they loaded (specs,
    validators, the model generator) object by object took a tenth of a cold
    `generate`. Only here, never in `main`, which may run inside another program.
    """
    args = _parser().parse_args()
    status = _run(args)
    if args.batch:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


def _run(args: argparse.Namespace) -> int:
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
    validate.set_defaults(run=_validate, batch=True)

    bundle = commands.add_parser("bundle", help="write the single-file specs and test vectors under generated/spec/")
    bundle.add_argument("versions", nargs="*", metavar="VERSION")
    bundle.add_argument("--check", action="store_true", help="write nothing; exit 1 listing stale files")
    bundle.set_defaults(run=_bundle, batch=True)

    generate = commands.add_parser("generate", help="write everything under generated/ (specs, SDKs)")
    generate.add_argument("versions", nargs="*", metavar="VERSION")
    generate.add_argument("--check", action="store_true", help="write nothing; exit 1 listing stale files")
    generate.add_argument("--templates", type=Path, metavar="DIR", help="templates that override the built-in ones")
    generate.set_defaults(run=_generate, batch=True)

    diff = commands.add_parser("diff", help="print what changed between two specs, each change breaking or not")
    diff.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC",
        help="OLD and NEW: version names, spec folders or bundles; with --git-ref, NEW alone",
    )
    diff.add_argument("--git-ref", metavar="REF", help="take OLD from the same spec path at this commit")
    diff.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    diff.add_argument("--fail-on-breaking", action="store_true", help="exit 1 when any change is breaking")
    diff.set_defaults(run=_diff, batch=True)

    docs = commands.add_parser("docs", help="write the HTML reference of each version under generated/docs/")
    docs.add_argument("versions", nargs="*", metavar="VERSION")
    docs.add_argument("--check", action="store_true", help="write nothing; exit 1 listing stale files")
    docs.add_argument("--templates", type=Path, metavar="DIR", help="templates that override the built-in ones")
    docs.set_defaults(run=_docs, batch=True)

    serve = commands.add_parser("serve", help="run the sandbox gateway (both versions) on one address")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--db", default="payspec-sandbox.db", help="SQLite file (default: %(default)s), or :memory:")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (they share the --db file)")
    serve.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply notification retry delays and timeouts (0.001: tests; an answer is awaited 1 s at least)",
    )
    serve.add_argument("--processing-ms", type=int, default=2000, help="how long payouts and refunds stay PENDING")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(run=_serve, batch=False)

    fuzz = commands.add_parser("fuzz", help="contract-test the simulator (or --url, a live sandbox) with schemathesis")
    fuzz.add_argument("--api", required=True, metavar="VERSION", help="the API version to test (v1, v2)")
    fuzz.add_argument("--url", help="a running gateway; default: start the simulator in this process")
    fuzz.add_argument("--app-id", help="the merchant to test with, on --url")
    fuzz.add_argument("--secret", help="that merchant's app secret")
    fuzz.add_argument(
        "--sandbox-merchant", action="store_true", help="on --url, make a merchant with the /sandbox/ controls"
    )
    fuzz.add_argument("--seed", type=int, help="hypothesis seed, for a reproducible run")
    fuzz.add_argument("--max-examples", type=int, default=100, help="test cases per operation and phase")
    fuzz.add_argument("--workers", type=int, default=1, help="concurrent schemathesis workers")
    fuzz.add_argument("--phases", default="examples,coverage,fuzzing,stateful", help="schemathesis phases to run")
    fuzz.add_argument("--max-time", type=int, help="time budget in seconds for the whole run")
    fuzz.add_argument("--junit", type=Path, metavar="PATH", help="write a JUnit XML report")
    fuzz.add_argument(
        "--operation", action="append", default=[], metavar="OPERATION_ID", help="test only this operation (repeatable)"
    )
    fuzz.set_defaults(run=_fuzz, batch=False)
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
            version = _version(config, name)
            targets.append((version.name, version.spec))
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


def _load_all(
    config: Config, names: Sequence[str], bundles: Mapping[str, Bundle] | None = None
) -> list[tuple[VersionConfig, ApiModel]]:
    from .loader import load_model

    versions = [_version(config, n) for n in names] if names else list(config.versions)
    loaded, problems = [], []
    for version in versions:
        try:
            loaded.append((version, load_model(version.spec, version.name, (bundles or {}).get(version.name))))
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
    config = find_config()
    if args.templates is not None and not args.templates.is_dir():
        raise ConfigError(f"--templates {args.templates}: no such folder")
    template_dirs = [*([args.templates.resolve()] if args.templates else []), BUILTIN_TEMPLATES]
    key = json.dumps({"versions": sorted(args.versions), "templates": [str(t) for t in template_dirs]})
    record = freshness.record_path(config.root / CACHE_FOLDER, key)
    if freshness.still_fresh(record, config.output, template_dirs):
        print("up to date")
        return 0

    from .emitters.models import FormatError, prefetched

    versions = [_version(config, n) for n in args.versions] if args.versions else list(config.versions)

    # Bundled first (that needs only yaml), then forked before anything heavy is imported: the
    # child makes the models from these bundles while this process validates and renders.
    bundles = _bundles(versions)

    def model_jobs() -> list[ModelJob]:
        return [_model_job(config, version, bundled) for version, bundled in bundles]

    with prefetched(config.root / CACHE_FOLDER, model_jobs) as models_ready:
        import jinja2

        from .emitters.docs import emit_docs
        from .emitters.python_sdk import SdkError, emit_python_sdk
        from .emitters.spec import emit_spec
        from .output import OutputTree
        from .render import environment, html_environment

        env = environment(args.templates)
        html_env = html_environment(args.templates)
        tree = OutputTree(config.output)
        inputs = [config.root / "pyproject.toml", *freshness.toolkit_files(template_dirs)]
        loaded = _load_all(config, args.versions, {version.name: bundled for version, bundled in bundles})
        for version, model in loaded:
            emit_spec(model, version.spec, tree)
            emit_docs(model, html_env, tree)
        for version, model in loaded:
            label = _spec_label(config, version)
            try:
                emit_python_sdk(model, version.package, label, env, tree, config.root / CACHE_FOLDER, models_ready)
            except (SdkError, FormatError, jinja2.TemplateError) as exc:
                raise ConfigError(f"{version.name}: cannot generate the SDK: {exc}") from exc
            inputs += model.sources
    _emit_changelog(config, loaded, env, tree)
    status = _finish(tree, args.check)
    if status == 0:
        freshness.save(record, inputs, tree.files, tree.owned)
    return status


def _spec_label(config: Config, version: VersionConfig) -> str:
    """The spec folder as generated files name it: relative to the project, or the version's name."""
    spec = version.spec.resolve()
    return spec.relative_to(config.root).as_posix() if spec.is_relative_to(config.root) else version.name


def _bundles(versions: Sequence[VersionConfig]) -> list[tuple[VersionConfig, Bundle]]:
    """Each version whose spec bundles without a problem, with its bundle (the others are reported by loading)."""
    from .bundle import bundle, spec_root

    bundles = []
    for version in versions:
        problems: list[Problem] = []
        bundled = bundle(spec_root(version.spec), problems)
        if bundled is not None and not problems:
            bundles.append((version, bundled))
    return bundles


def _model_job(config: Config, version: VersionConfig, bundled: Bundle) -> ModelJob:
    """(bundled document, file header): what the models of `version` are made from."""
    from .output import file_header

    return bundled.document, file_header(bundled.document, _spec_label(config, version))


def _emit_changelog(
    config: Config, loaded: list[tuple[VersionConfig, ApiModel]], env: jinja2.Environment, tree: OutputTree
) -> None:
    """The changelog from the first to the last configured version, when both were generated."""
    from .emitters.changelog import emit_changelog

    models = {version.name: model for version, model in loaded}
    first, last = config.versions[0].name, config.versions[-1].name
    if first != last and first in models and last in models:
        emit_changelog(models[first], models[last], env, tree)


def _diff(args: argparse.Namespace) -> int:
    import tempfile

    from .diff import breaking, diff
    from .emitters.changelog import render_json, render_markdown
    from .loader import load_published
    from .render import environment

    wanted = 1 if args.git_ref else 2
    if len(args.specs) != wanted:
        raise ConfigError("give NEW alone with --git-ref" if args.git_ref else "give two specs: OLD NEW")
    targets = _targets(_optional_config(), args.specs)
    with tempfile.TemporaryDirectory(prefix="payspec-diff-") as scratch:
        if args.git_ref:
            name, path = targets[0]
            targets = [(f"{name}@{args.git_ref}", _at_commit(path, args.git_ref, Path(scratch))), (name, path)]
        # A diff reads specs as they are (`payspec validate` judges them), so that an old
        # commit's spec that today's checks would refuse can still be compared.
        try:
            old, new = (load_published(path, name) for name, path in targets)
        except SpecError as exc:
            raise SpecError([_at_ref(p, Path(scratch), args.git_ref) for p in exc.problems]) from exc
    changes = diff(old, new)
    render = render_json if args.json else render_markdown
    print(render(old, new, changes, environment()), end="")
    return 1 if args.fail_on_breaking and breaking(changes) else 0


def _at_commit(path: Path, ref: str, scratch: Path) -> Path:
    """The spec at `path` as it was at commit `ref`, extracted with the rest of its tree into `scratch`."""
    import io
    import shutil
    import subprocess
    import tarfile

    git = shutil.which("git")
    if git is None:
        raise ConfigError("--git-ref needs git, which is not on PATH")
    if ref.startswith("-"):
        raise ConfigError(f"--git-ref {ref}: not a commit")
    folder = path.resolve() if path.is_dir() else path.resolve().parent
    top = subprocess.run([git, "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0:
        raise ConfigError(f"{path}: not in a git work tree")
    root = Path(top.stdout.strip()).resolve()
    archive = subprocess.run([git, "-C", str(root), "archive", "--format=tar", ref], capture_output=True)
    if archive.returncode != 0:
        raise ConfigError(f"--git-ref {ref}: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(scratch, filter="data")
    old = scratch / path.resolve().relative_to(root)
    if not old.exists():
        raise ConfigError(f"{path.resolve().relative_to(root)}: not in commit {ref}")
    return old


def _at_ref(problem: Problem, scratch: Path, ref: str | None) -> Problem:
    """A problem of a spec extracted from a commit, located as `REF:path` instead of in the scratch folder."""
    location = problem.location
    if ref is None or location is None or not location.file.is_relative_to(scratch):
        return problem
    where = Path(f"{ref}:{location.file.relative_to(scratch).as_posix()}")
    return Problem(Location(where, location.line), problem.where, problem.message)


def _docs(args: argparse.Namespace) -> int:
    import jinja2

    from .emitters.docs import emit_docs
    from .output import OutputTree
    from .render import html_environment

    config = find_config()
    env = html_environment(args.templates)
    tree = OutputTree(config.output)
    for _, model in _load_all(config, args.versions):
        try:
            emit_docs(model, env, tree)
        except jinja2.TemplateError as exc:
            raise ConfigError(f"{model.name}: cannot write the docs: {exc}") from exc
    return _finish(tree, args.check)


def _fuzz(args: argparse.Namespace) -> int:
    from .contract.runner import FuzzOptions, fuzz

    options = FuzzOptions(
        version=args.api,
        url=args.url,
        app_id=args.app_id,
        secret=args.secret,
        sandbox_merchant=args.sandbox_merchant,
        seed=args.seed,
        max_examples=args.max_examples,
        workers=args.workers,
        phases=args.phases,
        junit=args.junit,
        max_time=args.max_time,
        operations=tuple(args.operation),
    )
    config = find_config()
    _version(config, args.api)  # an unknown version is a one-line error here
    return fuzz(config, options)


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
        # One process commits the requests of an event-loop turn together; several would
        # wait on each other's open group, so each of them commits request by request.
        PAYSPEC_GROUP_COMMIT="1" if args.workers == 1 else "0",
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
        http="simulator.transport:NoDelayH11Protocol",
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
