"""The server-rendered UI (Jinja2 + htmx): login, dashboard, companies, FAQ, calls, inbox, account, users."""

from fastapi import APIRouter, Depends

from bot.web.deps import csrf
from bot.web.ui import account, auth, calls, companies, inbox

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf)])
for module in (auth, companies, calls, inbox, account):
    router.include_router(module.router)
