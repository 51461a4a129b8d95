"""The compliance web pages under ``/compliance/`` (issue 17), server-rendered HTML.

``layer.Pages`` answers every page route; each page is a module with a ``routes(site)``
function (``inventory``, ``version``, ``audit_page``, ``requests_page``); ``site.Site``
holds what they share: the templates (``render``), who may see what (``access``), the
CSRF tokens of forms (``csrf``). The route table (authorization/table.py) lists every
page route, so the authorization layer decides on each before a page runs; a page
only narrows lists to what the signed-in principal may read.
"""
