"""Sphinx directives that take the site's pictures and reference tables from the code.

Pages stay readable: a page says ``{dynamokv-figure} ring`` and the build runs the
project's code to draw it (see ``drawings.py``). The reference pages are generated the
same way, so they cannot disagree with what they describe:

- ``dynamokv-figure NAME``: one picture of ``drawings.DRAWINGS``;
- ``dynamokv-output``: a ``dynamokv`` command line (the directive's content) and what it
  prints, run in-process at build time;
- ``dynamokv-cli``: every command, flag and default of the real argparse parser;
- ``dynamokv-http``: every route of the OpenAPI document the nodes serve;
- ``dynamokv-config``: the node's configuration keys and the core's tunables, with the
  defaults read from their dataclasses;
- ``dynamokv-metrics``: every metric a freshly started real node exports on ``/metrics``;
- the role ``{dynamokv-value}`NAME```: one number computed from the code's defaults.

The generated text is MyST Markdown, parsed in place: the pages are Markdown.

Math is rendered by MathJax 2 from Debian's ``libjs-mathjax``, copied into the build's
``_static``, so no page loads anything from the network.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import posixpath
import re
import shutil
import tempfile
import typing
from pathlib import Path
from typing import Any

import drawings
from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.ext.graphviz import graphviz
from sphinx.util.docutils import SphinxDirective, SphinxRole
from sphinx.util.nodes import nested_parse_with_titles

MATHJAX_SOURCE = Path("/usr/share/javascript/mathjax")
MATHJAX_PARTS = (
    "MathJax.js",
    "config/TeX-AMS_SVG-full.js",
    "jax/output/SVG/config.js",
    "jax/output/SVG/jax.js",
    "jax/output/SVG/autoload",
    "jax/output/SVG/fonts/TeX",
    "jax/element/mml",
    "jax/input/TeX",
    "extensions",
    "localization/en",
)
"""What MathJax 2 loads for TeX input and SVG output (no web fonts needed)."""

GENERATED = "_generated"
"""Folder of the source tree where SVG pictures are written at build time (not committed)."""


# --------------------------------------------------------------------------- rebuilds


def _note_generated(directive: SphinxDirective | SphinxRole) -> None:
    """Remember that this page shows generated content, so every build redraws it."""
    generated: set[str] = getattr(directive.env, "dynamokv_generated", set())
    generated.add(directive.env.docname)
    directive.env.dynamokv_generated = generated  # type: ignore[attr-defined]


def _always_outdated(
    app: Sphinx, env: Any, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    # A page's source may be unchanged while the code it draws from has changed.
    return sorted(getattr(env, "dynamokv_generated", set()) - removed)


def _purge(app: Sphinx, env: Any, docname: str) -> None:
    getattr(env, "dynamokv_generated", set()).discard(docname)


def _merge(app: Sphinx, env: Any, docnames: set[str], other: Any) -> None:
    generated: set[str] = getattr(env, "dynamokv_generated", set())
    generated |= getattr(other, "dynamokv_generated", set()) & docnames
    env.dynamokv_generated = generated


# --------------------------------------------------------------------------- pictures


class FigureDirective(SphinxDirective):
    """``{dynamokv-figure} NAME``: draw ``drawings.DRAWINGS[NAME]`` and place it here."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        _note_generated(self)
        name = self.arguments[0]
        if name not in drawings.DRAWINGS:
            raise self.error(f"no drawing {name!r}; known: {', '.join(drawings.DRAWINGS)}")
        drawing = drawings.DRAWINGS[name]()
        figure = nodes.figure(classes=["dynamokv-figure"], ids=[f"figure-{name}"])
        if drawing.kind == "dot":
            picture = graphviz()
            picture["code"] = drawing.content
            picture["options"] = {"docname": self.env.docname}
            picture["alt"] = drawing.alt
            figure += picture
        else:
            folder = Path(self.env.srcdir) / GENERATED
            folder.mkdir(exist_ok=True)
            (folder / f"{name}.svg").write_text(drawing.content)
            figure += nodes.image(uri=f"/{GENERATED}/{name}.svg", alt=drawing.alt)
        figure += nodes.caption(text=drawing.caption)
        return [figure]


# --------------------------------------------------------------------------- command output


def _run_command(argv: list[str]) -> str:
    """What ``dynamokv ARGV`` prints, run in this process (the presets' runs are cached)."""
    from dynamokv.impl.cli import main
    from dynamokv.impl.sim import _presets
    from dynamokv.impl.sim._paper import print_fig8

    if argv == ["sim", "--preset", "q1"]:
        return "\n".join(_presets.print_q1(drawings.q1_measurement()))
    if argv == ["sim", "--preset", "q4"]:
        return "\n".join(_presets.print_q4(drawings.q4_measurement()))
    if argv == ["sim", "--preset", "fig8"]:
        return "\n".join(print_fig8(drawings.fig8_rows()))
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        status = main(argv)
    if status != 0:
        raise RuntimeError(f"dynamokv {' '.join(argv)} exited {status}: {output.getvalue()}")
    return output.getvalue().rstrip()


class OutputDirective(SphinxDirective):
    """``{dynamokv-output}`` with a ``dynamokv …`` line: the line and its real output."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        _note_generated(self)
        line = " ".join(self.content).strip()
        if not line.startswith("dynamokv "):
            raise self.error("the content must be one dynamokv command line")
        text = f"$ {line}\n{_run_command(line.split()[1:])}"
        block = nodes.literal_block(text, text, language="text")
        return [block]


# --------------------------------------------------------------------------- the CLI


def _cell(text: str) -> str:
    """``text`` as one cell of a Markdown pipe table."""
    return text.replace("\n", " ").replace("|", "\\|").strip() or "—"


def _code(text: str) -> str:
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _markdown_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _cli_markdown(parser: Any, depth: int) -> list[str]:
    """One heading per command (``depth`` ``#``), its usage and a table of its arguments."""
    import argparse

    lines = ["#" * depth + " " + parser.prog, ""]
    if parser.description:
        lines += [parser.description.strip(), ""]
    lines += ["```text", parser.format_usage().strip(), "```", ""]
    rows = []
    children: list[Any] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if sub.description is None and helps.get(name):
                    sub.description = helps[name]
                children.append(sub)
            continue
        if isinstance(action, argparse._HelpAction):
            continue
        flags = ", ".join(action.option_strings) or action.dest
        if action.option_strings and action.nargs != 0:
            flags += f" {action.metavar or action.dest.upper()}"
        default = action.default
        if (
            default is None
            or default is argparse.SUPPRESS
            or (action.nargs == 0 and default is False)
        ):
            shown = "—"
        else:
            shown = _code(repr(default) if default == "" else str(default))
        help_text = (action.help or "").replace("%(default)s", str(default))
        if action.choices and not isinstance(action.choices, dict):
            help_text += f" (one of: {', '.join(map(str, action.choices))})"
        rows.append((_code(flags), shown, help_text))
    if rows:
        lines += _markdown_table(("argument", "default", "meaning"), rows)
    for sub in children:
        lines += _cli_markdown(sub, min(depth + 1, 6))
    return lines


class CliDirective(SphinxDirective):
    """``{dynamokv-cli}``: the whole command line, from ``build_parser()``."""

    def run(self) -> list[nodes.Node]:
        _note_generated(self)
        from dynamokv.impl.cli._main import build_parser

        container = nodes.section()
        lines = _cli_markdown(build_parser(), 2)
        nested_parse_with_titles(self.state, StringList(lines), container)
        return container.children


# --------------------------------------------------------------------------- HTTP


class HttpDirective(SphinxDirective):
    """``{dynamokv-http}``: every route of ``openapi_document()``."""

    def run(self) -> list[nodes.Node]:
        _note_generated(self)
        from dynamokv.impl.runtime._openapi import openapi_document

        document = openapi_document()
        lines: list[str] = []
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if method not in ("get", "put", "delete", "post"):
                    continue
                lines += [f"## {method.upper()} {path}", "", operation.get("summary", ""), ""]
                if operation.get("description"):
                    lines += [operation["description"], ""]
                parameters = [*operations.get("parameters", []), *operation.get("parameters", [])]
                if parameters:
                    lines += _markdown_table(
                        ("parameter", "in", "meaning"),
                        [
                            (_code(p["name"]), p["in"], p.get("description", "—"))
                            for p in parameters
                        ],
                    )
                lines += _markdown_table(
                    ("status", "content", "meaning"),
                    [
                        (
                            _code(status),
                            ", ".join(response.get("content", {})) or "—",
                            response.get("description", "—"),
                        )
                        for status, response in operation.get("responses", {}).items()
                    ],
                )
        lines += ["## The document itself", "", "Every node serves it at `/openapi.json`:", ""]
        lines += ["```json", *json.dumps(document, indent=2).splitlines(), "```", ""]
        container = nodes.section()
        nested_parse_with_titles(self.state, StringList(lines), container)
        return container.children


# --------------------------------------------------------------------------- configuration


def _attribute_docs(cls: type) -> dict[str, str]:
    """``name: description`` pairs of a Google-style ``Attributes:`` docstring section."""
    doc = cls.__doc__ or ""
    found: dict[str, str] = {}
    section = re.split(r"\n\s*Attributes:\s*\n", doc, maxsplit=1)
    if len(section) < 2:
        return found
    current = None
    for line in section[1].splitlines():
        match = re.match(r"^\s{4,8}(\w+)(?: \(.*?\))?: (.*)$", line)
        if match:
            current = match[1]
            found[current] = match[2].strip()
        elif current and line.strip() and not re.match(r"^\s{0,4}\S", line):
            found[current] += " " + line.strip()
        elif not line.strip():
            current = None
    return found


def _dataclass_rows(cls: type) -> list[tuple[str, str, str]]:
    docs = _attribute_docs(cls)
    rows = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name.startswith("_") or field.name == "planted_bug":
            continue
        if field.default is not dataclasses.MISSING:
            default: Any = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = "required"
        if dataclasses.is_dataclass(default):
            default = f"{type(default).__name__}()"
        kind = getattr(hints.get(field.name), "__name__", str(hints.get(field.name)))
        rows.append((field.name, f"``{default!r}`` ({kind})", docs.get(field.name, "—")))
    return rows


class ConfigDirective(SphinxDirective):
    """``{dynamokv-config} CLASS``: a configuration dataclass's fields and defaults."""

    required_arguments = 1
    option_spec: typing.ClassVar[dict[str, Any]] = {"fields": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        _note_generated(self)
        module_name, _, class_name = self.arguments[0].rpartition(".")
        module = __import__(module_name, fromlist=[class_name])
        cls = getattr(module, class_name)
        rows = _dataclass_rows(cls)
        if "fields" in self.options:
            wanted = [name.strip() for name in self.options["fields"].split(",")]
            by_name = {row[0].strip("`"): row for row in rows}
            missing = [name for name in wanted if name not in by_name]
            if missing:
                raise self.error(f"{class_name} has no field {', '.join(missing)}")
            rows = [by_name[name] for name in wanted]
        container = nodes.section()
        self.state.nested_parse(
            StringList(_markdown_table(("key", "default", "meaning"), rows)), 0, container
        )
        return container.children


# --------------------------------------------------------------------------- metrics


def _live_metrics() -> str:
    """``/metrics`` of a real one-node cluster started for the purpose, then stopped."""
    from dynamokv.impl.runtime._local_cluster import LocalCluster, http_request

    with (
        tempfile.TemporaryDirectory() as directory,
        LocalCluster(directory, nodes=1, n=1, r=1, w=1, partition_count=64) as cluster,
    ):
        cluster.up()
        address = cluster.http_address("node-1")
        http_request(address, "PUT", "/kv/docs", body=b"metrics")
        status, _, body = http_request(address, "GET", "/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return body.decode()


class MetricsDirective(SphinxDirective):
    """``{dynamokv-metrics}``: every metric family a real node exports, with its help."""

    def run(self) -> list[nodes.Node]:
        _note_generated(self)
        families: dict[str, list[str]] = {}
        for line in _live_metrics().splitlines():
            match = re.match(r"# (HELP|TYPE) (\S+) (.*)$", line)
            if match:
                families.setdefault(match[2], ["", ""])[0 if match[1] == "TYPE" else 1] = match[3]
        rows = [
            (_code(name), kind, help_text) for name, (kind, help_text) in sorted(families.items())
        ]
        container = nodes.section()
        self.state.nested_parse(
            StringList(_markdown_table(("metric", "type", "meaning"), rows)), 0, container
        )
        return container.children


# --------------------------------------------------------------------------- values


def _values() -> dict[str, str]:
    from dynamokv.impl.core import GossipConfig, MemberConfig, NodeConfig
    from dynamokv.impl.runtime._config import TICK_MS_DEFAULT
    from dynamokv.spec.ring import DEFAULT_PARTITION_COUNT

    gossip = GossipConfig()
    core = NodeConfig()
    member = MemberConfig()
    return {
        "tick_ms": f"{TICK_MS_DEFAULT} ms",
        "partition_count": f"{DEFAULT_PARTITION_COUNT:,}",
        "n": str(core.n),
        "r": str(core.r),
        "w": str(core.w),
        "vector_clock_threshold": str(core.vector_clock_threshold),
        "hints_count_max": f"{core.hints_count_max:,}",
        "hints_bytes_max": f"{core.hints_bytes_max >> 20} MiB",
        "hint_replay_interval_ticks": f"{core.hint_replay_interval_ticks} ticks",
        "gossip_period_ticks": f"{gossip.gossip_period_ticks} ticks",
        "gossip_period_ms": f"{gossip.gossip_period_ticks * TICK_MS_DEFAULT} ms",
        "replica_timeout_ticks": f"{core.replica_timeout_ticks} ticks",
        "replica_timeout_ms": f"{core.replica_timeout_ticks * TICK_MS_DEFAULT} ms",
        "request_timeout_ms": f"{core.request_timeout_ticks * TICK_MS_DEFAULT} ms",
        "phi_threshold": f"{gossip.phi.threshold:g}",
        "anti_entropy_interval_ticks": f"{member.anti_entropy_interval_ticks} ticks",
        "merkle_depth": str(member.merkle_depth),
        "transfer_batch_keys_max": str(member.transfer_batch_keys_max),
        "transfers_in_flight_max": str(member.transfers_in_flight_max),
    }


class ValueRole(SphinxRole):
    """``{dynamokv-value}`gossip_period_ms```: a default computed from the code."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        _note_generated(self)
        values = _values()
        if self.text not in values:
            message = self.inliner.reporter.error(
                f"unknown value {self.text!r}; known: {', '.join(values)}", line=self.lineno
            )
            return [], [message]
        return [nodes.Text(values[self.text])], []


# --------------------------------------------------------------------------- MathJax


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        source = MATHJAX_SOURCE / part
        destination = target / part
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


def _check_mathjax(app: Sphinx) -> None:
    if not (MATHJAX_SOURCE / "MathJax.js").exists():
        raise RuntimeError(
            "Debian's libjs-mathjax is missing: run make docs-deps "
            "(python -m dynamokv.impl.cli._debian docs)"
        )


def _no_favicon(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    # The site has no icon; saying so stops browsers from asking the server for one.
    context["metatags"] = context.get("metatags", "") + '<link rel="icon" href="data:,">'


class _SharedNavigation:
    """The site's navigation tree, rendered once per folder for the pages outside it.

    The theme asks every page for the whole table of contents, and Sphinx resolves it
    again for each page (a quarter of the build's CPU). A page of the table of
    contents gets its own copy, since its entry and its ancestors are marked current. A
    page outside it (the highlighted source files, the index, the search page) has no
    entry to mark, and its links are relative to its folder, so the pages of one folder
    get the same text: it is rendered for the first of them and reused for the others.
    """

    def __init__(self) -> None:
        self.rendered: dict[tuple[str, tuple[tuple[str, Any], ...]], str] = {}

    def share(
        self,
        app: Sphinx,
        pagename: str,
        templatename: str,
        context: dict[str, Any],
        doctree: Any,
    ) -> None:
        if pagename in app.env.all_docs or "toctree" not in context:
            return
        render = context["toctree"]
        folder = posixpath.dirname(pagename)

        def toctree(**options: Any) -> str:
            key = (folder, tuple(sorted(options.items())))
            if key not in self.rendered:
                self.rendered[key] = render(**options)
            return self.rendered[key]

        context["toctree"] = toctree


def _drop_builtins_from_viewcode(app: Sphinx) -> list[Any]:
    # A type alias's docstring belongs to ``builtins``; viewcode would list that module
    # and link to a source page it never writes.
    modules = getattr(app.env, "_viewcode_modules", {})
    modules.pop("builtins", None)
    return []


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives, the role and the MathJax copy."""
    app.add_directive("dynamokv-figure", FigureDirective)
    app.add_directive("dynamokv-output", OutputDirective)
    app.add_directive("dynamokv-cli", CliDirective)
    app.add_directive("dynamokv-http", HttpDirective)
    app.add_directive("dynamokv-config", ConfigDirective)
    app.add_directive("dynamokv-metrics", MetricsDirective)
    app.add_role("dynamokv-value", ValueRole())
    app.connect("builder-inited", _check_mathjax)
    app.connect("build-finished", _copy_mathjax)
    app.connect("html-page-context", _no_favicon)
    # Before the theme's handler (priority 500), which renders the navigation tree.
    app.connect("html-page-context", _SharedNavigation().share, priority=400)
    app.connect("env-get-outdated", _always_outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("html-collect-pages", _drop_builtins_from_viewcode, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
