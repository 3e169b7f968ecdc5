from tests.conftest import a_customer


def test_signup_login_create_and_read_a_customer(api, tenant):
    created = a_customer(api, tenant, name="张三贸易有限公司", code="C-001")
    r = api.get(f"/crm/customers/{created['id']}", tenant.token)
    assert r.status == 200
    assert r.json["name"] == "张三贸易有限公司"
    assert r.headers["etag"] == '"1"'
