"""The web app: server-rendered pages over the same services and permission table as the API."""
