from tests.support import Login, Org, report_body


def test_nurse_submits_named_report_and_reads_it_back(client, hospital: Org, login: Login):
    headers = login("nurse")
    created = client.post("/api/v1/reports", json=report_body(hospital.ward), headers=headers)
    assert created.status_code == 201
    assert created.json["anonymous"] is False
    assert "receipt_key" not in created.json
    seen = client.get(f"/api/v1/reports/{created.json['id']}", headers=headers)
    assert seen.status_code == 200
    assert "routing" not in seen.json and "reporter" not in seen.json
