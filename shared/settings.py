"""Run-time configuration, read from the environment when asked (never at import)."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: str
    event_bus_name: str
    region: str
    service: str

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            table_name=env.get("TABLE_NAME", "careloop-local"),
            event_bus_name=env.get("EVENT_BUS_NAME", "careloop-local"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            service=env.get("POWERTOOLS_SERVICE_NAME", "careloop"),
        )


def settings() -> Settings:
    """The current settings. Cheap enough to call per request; tests change the environment freely."""
    return Settings.from_env()
