"""The base of our pydantic models: each builds its validator and serializer at first use, not at import.

A function imports many more models than its first request uses (the event functions import every domain's),
and pydantic spends about 0.5 ms building each class: deferring saved 30 ms of the event functions' cold
start (docs/decisions.md, issue #15). Behaviour is unchanged; a model whose schema cannot be built fails at
its first use instead of at import, and tests/unit/test_models_build.py builds every one.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
