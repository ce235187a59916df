"""The signer, rendered from the spec's scheme, for the toolkit's own use.

The SDKs, the simulator and the fuzzer all sign with the module the signer
template renders. The toolkit needs the very same code to check the spec's
examples and test vectors and to write the docs' worked example, so it renders
that template in memory instead of keeping a second implementation.
"""

from __future__ import annotations

import types
from typing import Any, Protocol, cast

from .model import ApiModel
from .render import environment

SIGNER_TEMPLATE = "python/_signing.py.jinja"


class Signer(Protocol):
    """What the rendered `_signing` module offers."""

    SIGN_FIELD: str

    def canonical_string(self, body: Any) -> str: ...

    def string_to_sign(self, body: Any, secret: str) -> str: ...

    def sign(self, body: Any, secret: str) -> str: ...

    def verify(self, body: Any, secret: str) -> bool: ...

    def file_digest(self, content: bytes) -> str: ...


def render_signer(model: ApiModel, header: str) -> str:
    """The source of the `_signing` module for `model`, from the toolkit's own template."""
    template = environment(None).get_template(SIGNER_TEMPLATE)
    return template.render(model=model, scheme=model.signature, header=header)


def load_signer(model: ApiModel) -> Signer:
    """The rendered `_signing` module, executed in memory."""
    module = types.ModuleType(f"payspec_signer_{model.name}")
    exec(compile(render_signer(model, "# in-memory"), module.__name__, "exec"), module.__dict__)  # noqa: S102
    return cast(Signer, module)
