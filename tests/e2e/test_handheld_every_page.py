"""Every back-office page of the role matrix, opened at 360 px (a handheld scanner) by each role that may
open it: none may scroll sideways (``scrollWidth > innerWidth``). Downloads (PDF, CSV, ZPL) are skipped."""

import pytest
from django.test import Client
from django.urls import reverse

from oms.roles import ROLE_NAMES
from tests.oms.test_roles import (  # noqa: F401 - the matrix's objects, as fixtures of this module
    MATRIX,
    connector_matrix_objects,
    inventory_matrix_objects,
    matrix_objects,
    network_matrix_objects,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The elements wider than the screen, to say what to fix.
OFFENDERS = """() => {
  const width = window.innerWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && box.width > 0) {
      let inScroller = false;
      for (let p = el.parentElement; p; p = p.parentElement) {
        const style = getComputedStyle(p);
        if (['auto', 'scroll', 'hidden'].includes(style.overflowX) && p !== document.body) {
          inScroller = true;
          break;
        }
      }
      const classes = typeof el.className === 'string' ? el.className.trim().split(/\\s+/).join('.') : '';
      if (!inScroller) {
        out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (classes ? '.' + classes : '') +
          ' right=' + Math.round(box.right));
      }
    }
    if (out.length >= 5) break;
  }
  return out;
}"""


def pages_for(role):
    """(url name, kwargs) of the matrix's pages this role opens with a 200."""
    for name, (kwargs, allowed, *rest) in sorted(MATRIX.items()):
        statuses = rest[0] if rest else {}
        if role in allowed and statuses.get(role, statuses.get("ok", 200)) == 200:
            yield name, kwargs


def sign_in(page, live_server, user):
    client = Client()
    client.force_login(user)
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_no_back_office_page_scrolls_sideways_at_360_px(page, live_server, role_users, matrix_objects):  # noqa: F811
    page.set_viewport_size({"width": 360, "height": 740})
    opened, failures = 0, []
    for role in ROLE_NAMES:
        sign_in(page, live_server, role_users[role])
        for name, kwargs in pages_for(role):
            url = live_server.url + reverse(name, kwargs=kwargs)
            answer = page.request.get(url)
            if answer.status != 200 or "text/html" not in answer.headers.get("content-type", ""):
                continue  # a download or a fragment's redirect: nothing to lay out
            page.goto(url)
            page.wait_for_load_state("networkidle")  # htmx fragments loaded on the page
            scroll_width, inner_width = page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            opened += 1
            if scroll_width > inner_width:
                failures.append((role, name, scroll_width, page.evaluate(OFFENDERS)))
    assert opened >= 100  # every page of every role, not a handful
    assert failures == [], "\n".join(str(f) for f in failures)
