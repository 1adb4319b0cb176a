"""How to reach a Kafka cluster: bootstrap servers, TLS and SASL. Built once at the CLI edge, passed down.

Kwargs for the three clients synsec uses: kafka-python (admin, tools), aiokafka and Faust (workers).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any, Mapping

from synsec.engine.errors import SynsecError

__all__ = ["BrokerSettings", "KafkaSettingsError", "parse_broker_url", "ENV_VARS", "SECURITY_PROTOCOLS",
           "SASL_MECHANISMS"]

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
DEFAULT_PORT = 9092

# field -> environment variable read by from_url_and_env (flags win over the environment)
ENV_VARS = {
    "url": "SYNSEC_KAFKA_BROKER",
    "security_protocol": "SYNSEC_KAFKA_SECURITY_PROTOCOL",
    "sasl_mechanism": "SYNSEC_KAFKA_SASL_MECHANISM",
    "sasl_username": "SYNSEC_KAFKA_SASL_USERNAME",
    "sasl_password": "SYNSEC_KAFKA_SASL_PASSWORD",
    "ssl_cafile": "SYNSEC_KAFKA_SSL_CAFILE",
    "ssl_certfile": "SYNSEC_KAFKA_SSL_CERTFILE",
    "ssl_keyfile": "SYNSEC_KAFKA_SSL_KEYFILE",
}


class KafkaSettingsError(SynsecError):
    """Broker settings that cannot work (bad URL, SASL without a password, TLS files on PLAINTEXT...)."""


def _split_hostport(item: str, url: str) -> str:
    host, port = item, str(DEFAULT_PORT)
    if item.startswith("["):                      # [::1]:9092
        end = item.find("]")
        if end < 0:
            raise KafkaSettingsError(f"{url!r}: unbalanced '[' in {item!r}")
        host, rest = item[:end + 1], item[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise KafkaSettingsError(f"{url!r}: expected ':port' after {host}")
            port = rest[1:]
    elif ":" in item:
        host, port = item.rsplit(":", 1)
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise KafkaSettingsError(f"{url!r}: {item!r} is not host:port")
    return f"{host}:{int(port)}"


def parse_broker_url(url: str) -> tuple[str, ...]:
    """`kafka://h1:9092,h2:9092` (or `;`-separated, Faust style, or bare host:port) → ("h1:9092", "h2:9092")."""
    out: list[str] = []
    for part in url.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "://" in part:
            scheme, part = part.split("://", 1)
            if scheme != "kafka":
                raise KafkaSettingsError(f"{url!r}: unsupported scheme {scheme!r} (use kafka://host:port; "
                                         f"TLS and SASL are separate settings)")
        part = part.rstrip("/")
        if not part:
            continue
        out.append(_split_hostport(part, url))
    if not out:
        raise KafkaSettingsError(f"{url!r}: no bootstrap server (expected kafka://host:port[,host:port])")
    return tuple(out)


@dataclass(frozen=True)
class BrokerSettings:
    bootstrap_servers: tuple[str, ...]
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    client_id: str = "synsec"

    def __post_init__(self) -> None:
        if not self.bootstrap_servers:
            raise KafkaSettingsError("no bootstrap server")
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise KafkaSettingsError(f"security protocol {self.security_protocol!r}: expected one of "
                                     f"{', '.join(SECURITY_PROTOCOLS)}")
        sasl = self.security_protocol.startswith("SASL_")
        tls = self.security_protocol in ("SSL", "SASL_SSL")
        if sasl:
            if self.sasl_mechanism not in SASL_MECHANISMS:
                raise KafkaSettingsError(f"SASL mechanism {self.sasl_mechanism!r}: expected one of "
                                         f"{', '.join(SASL_MECHANISMS)}")
            if not self.sasl_username or self.sasl_password is None:
                raise KafkaSettingsError(f"{self.security_protocol} needs a SASL username and password")
        elif self.sasl_mechanism or self.sasl_username or self.sasl_password:
            raise KafkaSettingsError(f"SASL settings given but the security protocol is "
                                     f"{self.security_protocol} (use SASL_PLAINTEXT or SASL_SSL)")
        if not tls and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
            raise KafkaSettingsError(f"TLS files given but the security protocol is {self.security_protocol} "
                                     f"(use SSL or SASL_SSL)")
        if self.ssl_keyfile and not self.ssl_certfile:
            raise KafkaSettingsError("a TLS client key needs its certificate (ssl_certfile)")

    def __repr__(self) -> str:  # secrets masked
        password = "***" if self.sasl_password else None
        return (f"BrokerSettings(bootstrap_servers={self.bootstrap_servers!r}, "
                f"security_protocol={self.security_protocol!r}, sasl_mechanism={self.sasl_mechanism!r}, "
                f"sasl_username={self.sasl_username!r}, sasl_password={password!r}, "
                f"ssl_cafile={self.ssl_cafile!r}, ssl_certfile={self.ssl_certfile!r}, "
                f"ssl_keyfile={self.ssl_keyfile!r}, client_id={self.client_id!r})")

    __str__ = __repr__

    @classmethod
    def from_url(cls, url: str, **options: Any) -> "BrokerSettings":
        return cls(bootstrap_servers=parse_broker_url(url), **options)

    @classmethod
    def from_url_and_env(cls, url: str | None, env: Mapping[str, str], **flags: Any) -> "BrokerSettings":
        """Flags (None = not given) win over `env` (the CLI passes os.environ; see ENV_VARS)."""
        unknown = set(flags) - (set(ENV_VARS) | {"client_id"})
        if unknown:
            raise TypeError(f"unknown broker option(s): {', '.join(sorted(unknown))}")
        url = url or env.get(ENV_VARS["url"])
        if not url:
            raise KafkaSettingsError(f"no broker: give --broker kafka://host:port or set {ENV_VARS['url']}")
        values: dict[str, Any] = {}
        for name, var in ENV_VARS.items():
            if name == "url":
                continue
            value = flags.get(name)
            if value is None:
                value = env.get(var) or None
            if value is not None:
                values[name] = value
        if "security_protocol" in values:
            values["security_protocol"] = str(values["security_protocol"]).upper()
        if "sasl_mechanism" in values:
            values["sasl_mechanism"] = str(values["sasl_mechanism"]).upper()
        if "client_id" in flags and flags["client_id"]:
            values["client_id"] = flags["client_id"]
        return cls.from_url(url, **values)

    @property
    def url(self) -> str:
        return "kafka://" + ",".join(self.bootstrap_servers)

    @property
    def urls(self) -> list[str]:
        """One kafka://host:port per server: Faust's `broker` setting."""
        return [f"kafka://{s}" for s in self.bootstrap_servers]

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context (system CAs unless a CA file is given), or None without TLS."""
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def _common_kwargs(self) -> dict[str, Any]:
        # kafka-python and aiokafka share these names
        out: dict[str, Any] = {"bootstrap_servers": list(self.bootstrap_servers), "client_id": self.client_id,
                               "security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            out.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                       sasl_plain_password=self.sasl_password)
        return out

    def kafka_python_kwargs(self) -> dict[str, Any]:
        out = self._common_kwargs()
        if self.uses_tls:
            out.update({k: v for k, v in (("ssl_cafile", self.ssl_cafile), ("ssl_certfile", self.ssl_certfile),
                                          ("ssl_keyfile", self.ssl_keyfile)) if v})
        return out

    def aiokafka_kwargs(self) -> dict[str, Any]:
        out = self._common_kwargs()
        if self.uses_tls:
            out["ssl_context"] = self.ssl_context()
        return out

    def broker_credentials(self):
        """Faust's `broker_credentials`: SASLCredentials, SSLCredentials or None (PLAINTEXT)."""
        from faust.auth import SASLCredentials, SSLCredentials

        if self.sasl_mechanism:
            return SASLCredentials(username=self.sasl_username, password=self.sasl_password,
                                   mechanism=self.sasl_mechanism, ssl_context=self.ssl_context())
        if self.uses_tls:
            return SSLCredentials(self.ssl_context())
        return None

    def faust_kwargs(self) -> dict[str, Any]:
        """`broker` and `broker_credentials` for faust.App(...)."""
        out: dict[str, Any] = {"broker": self.urls}
        credentials = self.broker_credentials()
        if credentials is not None:
            out["broker_credentials"] = credentials
        return out
