# Copyright 2018 Databricks, Inc. and the MLflow Project contributors.
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file
# except in compliance with the License. You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software distributed under the
# License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,
# either express or implied. See the License for the specific language governing permissions
# and limitations under the License.
#
# Vendored from MLflow (https://github.com/mlflow/mlflow), tests/tracking/integration_test_utils.py
# at commit 032104d53d99cc0990232550aa332a99dc111009. Modified by mlflow-compliance: trimmed
# to _send_rest_tracking_post_request (unchanged). MLflow's server starters (_init_server,
# ServerThread) are replaced by stand-ins that refuse: this suite runs every test against one
# shared server started by tests/mlflow_suite/conftest.py, and the few MLflow tests that
# start a server of their own are skipped there (see expected_differences.EXCLUDED).
from tests.mlflow_suite.helper_functions import get_safe_port  # noqa: F401  (re-exported)


def _send_rest_tracking_post_request(tracking_server_uri, api_path, json_payload):
    """
    Make a POST request to the specified MLflow Tracking API and retrieve the
    corresponding `requests.Response` object
    """
    import requests

    url = tracking_server_uri + api_path
    response = requests.post(url, json=json_payload)
    return response


def _not_here(*args, **kwargs):
    raise RuntimeError(
        "tests/mlflow_suite runs MLflow's tests against one shared server (conftest.py); "
        "a test that starts a server of its own is listed in expected_differences.EXCLUDED"
    )


_init_server = _not_here
ServerThread = _not_here
