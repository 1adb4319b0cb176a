"""Where a ccscli command works: over synsec's API when an API URL is set (`--api-url`/`--api-key` on the
command group, or $SYNSEC_API_URL/$SYNSEC_API_KEY), else on the embedded store. One helper for every noun."""

from __future__ import annotations

import dataclasses
import functools

import click

__all__ = ["api_options", "api_client", "api_call"]


def api_options(group_fn):
    """Give a command group `--api-url` and `--api-key`; given ones replace the settings' (ctx.obj)."""

    @click.option("--api-url", help="synsec API base URL ($SYNSEC_API_URL); default: the embedded store.")
    @click.option("--api-key", help="API key for --api-url ($SYNSEC_API_KEY); a machine key.")
    @click.pass_context
    @functools.wraps(group_fn)
    def wrapper(ctx: click.Context, api_url: str | None, api_key: str | None, **kwargs):
        changes = {k: v for k, v in (("api_url", api_url), ("api_key", api_key)) if v}
        if changes:
            ctx.obj = dataclasses.replace(ctx.obj, **changes)
        return group_fn(**kwargs)

    return wrapper


def api_client(settings):
    """An ApiClient when an API URL is configured, else None (work on the embedded store)."""
    if not settings.api_url:
        return None
    from connectors.api.client import ApiClient, ApiError

    if not settings.api_key:
        raise click.UsageError("an API URL is set but no key: give --api-key or $SYNSEC_API_KEY")
    try:
        return ApiClient(settings.api_url, settings.api_key)
    except ApiError as err:
        raise click.UsageError(str(err)) from None


def api_call(fn, *args, **kwargs):
    """Call an ApiClient method; an ApiError becomes a clean ccscli error."""
    from connectors.api.client import ApiError

    try:
        return fn(*args, **kwargs)
    except ApiError as err:
        raise click.ClickException(str(err)) from None
