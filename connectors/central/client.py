"""A small synchronous client of `synsec central` for ccscli: logs in as a watcher, then reads synsec's own
`/v2/crowd/…` endpoints with the bearer token (the API client's urllib requests, another auth header)."""

from __future__ import annotations

from pathlib import Path

import yaml

from connectors.api.client import ApiClient, ApiError

__all__ = ["CentralClient", "read_credentials"]


def read_credentials(path: str | Path) -> tuple[str, str, str]:
    """(url, login, password) from a CrowdSec `online_api_credentials.yaml`; ApiError saying what is wrong."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ApiError(f"{path}: cannot read credentials: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data[k]
                                             for k in ("url", "login", "password")):
        raise ApiError(f"{path}: expected the strings url, login and password")
    return data["url"], data["login"], data["password"]


class CentralClient(ApiClient):
    def __init__(self, url: str, machine_id: str, password: str, timeout: float = 10.0):
        super().__init__(url, password, timeout)
        self.machine_id = machine_id
        self.token = ""

    def __repr__(self) -> str:  # the password and the token are secrets
        return f"CentralClient(url={self.url!r}, machine_id={self.machine_id!r})"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def login(self) -> None:
        got = self.request("POST", "/v2/watchers/login", body={"machine_id": self.machine_id, "password": self.key})
        if not isinstance(got, dict) or not isinstance(got.get("token"), str):
            raise ApiError(f"POST /v2/watchers/login: no token in the answer (is {self.url} a central API?)")
        self.token = got["token"]

    def explain(self, ip: str) -> dict:
        self.login()
        return self.request("GET", "/v2/crowd/explain", {"ip": ip})

    def status(self) -> dict:
        self.login()
        return self.request("GET", "/v2/crowd/status")
