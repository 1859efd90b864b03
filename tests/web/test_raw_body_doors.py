"""Hardening never reads an ingest door's body as a form, whatever the door's path."""

from __future__ import annotations

import json

from flask import Flask, request

from tests.factories import event


def test_an_ingest_route_keeps_its_body_whatever_its_path(app: Flask) -> None:
    def new_door() -> dict[str, int]:
        return {"received": len(request.get_data())}

    # A door added to the ingest blueprint without an OpenAPI entry.
    app.add_url_rule("/v1/new-door", endpoint="ingest_http.new_door", view_func=new_door,
                     methods=["POST"])
    body = b"events=%00" + b"x" * 100
    response = app.test_client().post(
        "/v1/new-door", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"received": len(body)}


def test_a_beacon_sent_as_a_form_is_stored(app: Flask) -> None:
    key = app.config["TEST_SITE"].key
    body = json.dumps({"events": [event()]}).encode()
    response = app.test_client().post(f"/v1/beacon?key={key}", data=body,
                                      content_type="application/x-www-form-urlencoded")
    assert response.status_code == 204, response.get_data(as_text=True)


def test_other_posts_still_refuse_a_nul_in_a_form_field(app: Flask) -> None:
    response = app.test_client().post("/login", data={"username": "a\x00b", "password": "x"})
    assert response.status_code == 400
    assert "U+0000" in response.get_data(as_text=True)
