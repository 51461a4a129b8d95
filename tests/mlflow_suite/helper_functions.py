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
# Vendored from MLflow (https://github.com/mlflow/mlflow), tests/helper_functions.py, as it
# stands in MLflow's 2.x and 3.x lines. Modified by mlflow-compliance: trimmed to the one
# helper tests/mlflow_suite/test_rest_tracking.py imports; the code itself is unchanged.
import socket

LOCALHOST = "127.0.0.1"


def get_safe_port():
    """Returns an ephemeral port that is very likely to be free to bind to."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOCALHOST, 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
