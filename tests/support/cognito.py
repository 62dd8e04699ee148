"""A local Cognito emulator (moto in server mode) that issues real Cognito-format tokens."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import requests

from .processes import BIN, Process, free_port, wait_until

REGION = "us-east-1"
PASSWORD = "Correct-horse-battery-9!"


@dataclass
class Pool:
    endpoint: str
    pool_id: str
    client_id: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json"

    def _client(self):
        import boto3

        return boto3.client("cognito-idp", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="local", aws_secret_access_key="local")

    def add_client(self, name: str) -> str:
        return self._client().create_user_pool_client(
            UserPoolId=self.pool_id, ClientName=name,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]

    def add_user(self, username: str, groups: tuple[str, ...] = ()) -> None:
        client = self._client()
        client.admin_create_user(UserPoolId=self.pool_id, Username=username, TemporaryPassword=PASSWORD + "t",
                                 MessageAction="SUPPRESS")
        client.admin_set_user_password(UserPoolId=self.pool_id, Username=username, Password=PASSWORD,
                                       Permanent=True)
        for group in groups:
            try:
                client.create_group(UserPoolId=self.pool_id, GroupName=group)
            except client.exceptions.GroupExistsException:
                pass
            client.admin_add_user_to_group(UserPoolId=self.pool_id, Username=username, GroupName=group)

    def sign_in(self, username: str, client_id: str | None = None) -> dict:
        """Tokens from the USER_PASSWORD_AUTH flow: AccessToken, IdToken, RefreshToken."""
        result = self._client().initiate_auth(ClientId=client_id or self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                              AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})
        return result["AuthenticationResult"]


class CognitoEmulator(Process):
    def __init__(self, log_dir: Path):
        self.port = free_port()
        env = {**os.environ, "AWS_DEFAULT_REGION": REGION}
        super().__init__("cognito", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)], env, log_dir)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "CognitoEmulator":
        super().start()
        wait_until(lambda: requests.get(self.endpoint + "/moto-api/", timeout=1).status_code < 500, 30,
                   "cognito emulator")
        return self

    def new_pool(self, name: str = "rolechat") -> Pool:
        import boto3

        client = boto3.client("cognito-idp", endpoint_url=self.endpoint, region_name=REGION,
                              aws_access_key_id="local", aws_secret_access_key="local")
        pool_id = client.create_user_pool(PoolName=name)["UserPool"]["Id"]
        pool = Pool(self.endpoint, pool_id, "")
        pool.client_id = pool.add_client("api")
        return pool


