"""Settings built once at the CLI edge and passed down; nothing else reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from synsec.store.sqlite import default_state_dir

__all__ = ["Settings", "settings_from_env"]


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    config_dir: Path | None = None
    api_url: str = ""
    api_key: str = ""

    def __repr__(self) -> str:  # secrets masked
        key = "***" if self.api_key else ""
        return (f"Settings(state_dir={self.state_dir!s}, config_dir={self.config_dir!s}, "
                f"api_url={self.api_url!r}, api_key={key!r})")


def settings_from_env(state_dir: str | None = None, config_dir: str | None = None) -> Settings:
    return Settings(
        state_dir=Path(state_dir) if state_dir else default_state_dir(),
        config_dir=Path(config_dir) if config_dir else None,  # --config-dir only; engine_options.content_dir decides
        api_url=os.environ.get("SYNSEC_API_URL", ""),
        api_key=os.environ.get("SYNSEC_API_KEY", ""),
    )
