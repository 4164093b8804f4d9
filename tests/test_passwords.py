"""PASSWORD_HASH_METHOD: new hashes use it, stored ones keep their own, a wrong
value stops start-up naming the setting."""

from __future__ import annotations

import pytest

from tests.conftest import basic, create_user, host_config


def test_new_hashes_use_the_setting_and_old_ones_still_log_in(tmp_path, ca_bundle, new_app):
    from plugin_host.db import session
    from plugin_host.models import User

    config = host_config(tmp_path, ca_bundle, PASSWORD_HASH_METHOD="scrypt")
    app = new_app(config, migrate=True)
    create_user(app, "admin", "admin-pw", admin=True)
    later = new_app({**config, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:2000",
                     "INSTANCE_PATH": str(tmp_path / "later")})
    create_user(later, "alice", "alice-pw")
    with later.app_context():
        methods = {u.username: u.password_hash.split("$")[0] for u in session().query(User)}
    assert methods == {"admin": "scrypt:32768:8:1", "alice": "pbkdf2:sha256:2000"}
    client = later.test_client()
    assert client.get("/rest/api/2/myself", headers=basic("admin", "admin-pw")).status_code == 200
    assert client.get("/rest/api/2/myself", headers=basic("alice", "alice-pw")).status_code == 200
    assert client.get("/rest/api/2/myself", headers=basic("alice", "admin-pw")).status_code == 401


@pytest.mark.parametrize("method", ["md5", "plain", "pbkdf2:sha256:many", "scrypt:1"])
def test_a_method_werkzeug_does_not_know_stops_start_up(tmp_path, ca_bundle, new_app, method):
    with pytest.raises(ValueError, match=r"^PASSWORD_HASH_METHOD .* is not one of werkzeug's methods"):
        new_app(host_config(tmp_path, ca_bundle, PASSWORD_HASH_METHOD=method))
