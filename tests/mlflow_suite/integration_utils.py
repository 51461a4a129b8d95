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
# Vendored from MLflow (https://github.com/mlflow/mlflow), tests/integration/utils.py at
# commit 4e834cf2d9bfe24c0e9c4d4112455b1782e51c7d. Modified by mlflow-compliance: trimmed to
# the one helper tests/mlflow_suite/test_rest_tracking.py imports; the code is unchanged.
from click.testing import CliRunner


def invoke_cli_runner(*args, **kwargs):
    """
    Helper method to invoke the CliRunner while asserting that the exit code is actually 0.
    """

    res = CliRunner().invoke(*args, **kwargs)
    assert res.exit_code == 0, f"Got non-zero exit code {res.exit_code}. Output is: {res.output}"
    return res
