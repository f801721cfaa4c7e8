"""(being written) Bearer-token auth when FACEVEIL_API_TOKEN is set."""


async def require_token() -> None:
    return None
