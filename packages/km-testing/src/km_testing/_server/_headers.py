"""The headers with which a request names its knowledge base and knowledge interaction."""

KB_HEADER = "Knowledge-Base-Id"
KI_HEADER = "Knowledge-Interaction-Id"
