/// The HTTP API as an OpenAPI 3.0 document, served at `GET /openapi.json` on both ports and
/// committed as docs/openapi.json (a test keeps the two equal and checks the server's answers
/// against it).
public enum OpenAPIDocument {
    /// The document's JSON text.
    public static let json = #"""
{
  "openapi": "3.0.3",
  "info": {
    "title": "Honeytrace prediction API",
    "version": "1",
    "description": "An image classifier behind the Neural Honeytrace defense. The prediction port serves /v1/predict, /v1/model, /health and this document; the admin port (keep it on loopback, or give it a token) serves /metrics, /v1/clients, /health and this document. Every refusal is an Error object with a stable code."
  },
  "servers": [
    {"url": "http://127.0.0.1:8080", "description": "prediction API (honeytrace serve --port)"}
  ],
  "paths": {
    "/v1/predict": {
      "post": {
        "operationId": "predict",
        "summary": "Predictions for one or more images",
        "description": "Pixels lie in [0, 1] (uint8 .npy bodies: 0-255). The answer's shape depends on the server's answer mode (GET /v1/model). The same image always gets the same answer.",
        "security": [{"bearer": []}, {}],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}},
            "application/x-npy": {"schema": {"type": "string", "format": "binary", "description": "A .npy array of shape [N, C, H, W], [N, C*H*W] or, for one channel, [N, H, W]; float32, float64 or uint8."}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary", "description": "The same as application/x-npy."}}
          }
        },
        "responses": {
          "200": {
            "description": "One answer per image, in the server's answer mode.",
            "content": {"application/json": {"schema": {"oneOf": [
              {"$ref": "#/components/schemas/ProbabilitiesAnswer"},
              {"$ref": "#/components/schemas/LabelsAnswer"},
              {"$ref": "#/components/schemas/TopKAnswer"}
            ]}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "408": {"$ref": "#/components/responses/BodyTimeout"},
          "413": {"$ref": "#/components/responses/TooLarge"},
          "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
          "429": {"$ref": "#/components/responses/RateLimited"},
          "500": {"$ref": "#/components/responses/InternalError"},
          "503": {"$ref": "#/components/responses/Overloaded"}
        }
      }
    },
    "/v1/model": {
      "get": {
        "operationId": "modelInfo",
        "summary": "Public metadata of the served model (never key material)",
        "responses": {
          "200": {"description": "The model's input shape, classes, answer mode and limits.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModelInfo"}}}}
        }
      }
    },
    "/health": {
      "get": {
        "operationId": "health",
        "summary": "Liveness (both ports)",
        "responses": {
          "200": {"description": "The server is up.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}
        }
      }
    },
    "/openapi.json": {
      "get": {
        "operationId": "openAPI",
        "summary": "This document (both ports)",
        "responses": {
          "200": {"description": "The OpenAPI document.", "content": {"application/json": {"schema": {"type": "object", "required": ["openapi", "paths"]}}}}
        }
      }
    },
    "/metrics": {
      "servers": [{"url": "http://127.0.0.1:9090", "description": "admin port (honeytrace serve --admin-port)"}],
      "get": {
        "operationId": "metrics",
        "summary": "Prometheus text exposition (admin port)",
        "security": [{"adminToken": []}, {}],
        "responses": {
          "200": {"description": "Counters and histograms.", "content": {"text/plain": {"schema": {"type": "string"}}}},
          "401": {"$ref": "#/components/responses/AdminUnauthorized"},
          "429": {"$ref": "#/components/responses/AdminLockedOut"}
        }
      }
    },
    "/v1/clients": {
      "servers": [{"url": "http://127.0.0.1:9090", "description": "admin port (honeytrace serve --admin-port)"}],
      "get": {
        "operationId": "clients",
        "summary": "Per-client query counts and defense statistics (admin port)",
        "security": [{"adminToken": []}, {}],
        "responses": {
          "200": {"description": "One record per client the query database has seen.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ClientListing"}}}},
          "401": {"$ref": "#/components/responses/AdminUnauthorized"},
          "429": {"$ref": "#/components/responses/AdminLockedOut"}
        }
      }
    }
  },
  "components": {
    "securitySchemes": {
      "bearer": {"type": "http", "scheme": "bearer", "description": "An API key of the server's clients file (--clients). Without a clients file no key is needed."},
      "adminToken": {"type": "http", "scheme": "bearer", "description": "The admin token of the admin port (serve --admin-token-file). Without one the admin port asks for nothing; /health and /openapi.json never do."}
    },
    "headers": {
      "RetryAfter": {"description": "Seconds after which a retry may succeed.", "schema": {"type": "integer", "minimum": 1}}
    },
    "responses": {
      "BadRequest": {"description": "malformed_request (the request line or headers do not parse; the connection is closed), malformed_json, malformed_npy, wrong_shape, empty_request, non_finite or out_of_range.",
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unauthorized": {"description": "missing_api_key or unknown_client.",
                       "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "BodyTimeout": {"description": "body_timeout: the body did not arrive within --body-timeout-seconds of the headers; the connection is closed.",
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "AdminUnauthorized": {"description": "missing_admin_token or wrong_admin_token (only when the server has an admin token).",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "AdminLockedOut": {"description": "locked_out: too many missing or wrong admin tokens from the source address within the lockout window (only when the server has an admin token); the right token is refused too until Retry-After.",
                         "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
                         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "TooLarge": {"description": "body_too_large (over --max-body-bytes) or too_many_rows (over --max-rows or the client's burst).",
                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "UnsupportedMediaType": {"description": "unsupported_media_type: neither JSON nor .npy.",
                               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "RateLimited": {"description": "rate_limited: the client's token bucket of images is empty; address_rate_limited: the source address sent too many requests no client answers for (any request without a clients file, refused ones with one); locked_out: too many failed authentications from the source address.",
                      "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "InternalError": {"description": "internal_error: the model failed on a valid request.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Overloaded": {"description": "overloaded: too many images queued, or shutting down.",
                     "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "PredictRequest": {
        "type": "object",
        "required": ["images"],
        "properties": {
          "images": {"type": "array", "minItems": 1,
                     "description": "Each image flattened row-major (C, H, W) to the model's input_size values.",
                     "items": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}}}
        }
      },
      "ProbabilitiesAnswer": {
        "type": "object", "required": ["probabilities"], "additionalProperties": false,
        "properties": {"probabilities": {"type": "array", "items": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}}}}
      },
      "LabelsAnswer": {
        "type": "object", "required": ["labels"], "additionalProperties": false,
        "properties": {"labels": {"type": "array", "items": {"type": "integer", "minimum": 0}}}
      },
      "TopKAnswer": {
        "type": "object", "required": ["topk"], "additionalProperties": false,
        "properties": {"topk": {"type": "array", "items": {"type": "array", "items": {
          "type": "object", "required": ["label", "probability"], "additionalProperties": false,
          "properties": {"label": {"type": "integer", "minimum": 0}, "probability": {"type": "number", "minimum": 0, "maximum": 1}}
        }}}}
      },
      "ModelInfo": {
        "type": "object",
        "required": ["input_shape", "input_size", "classes", "answer_mode", "max_rows_per_request", "max_body_bytes", "content_types"],
        "additionalProperties": false,
        "properties": {
          "input_shape": {"type": "array", "minItems": 3, "maxItems": 3, "items": {"type": "integer", "minimum": 1}, "description": "[C, H, W] of one image."},
          "input_size": {"type": "integer", "minimum": 1, "description": "C*H*W: the length of each flattened image in a JSON request."},
          "classes": {"type": "integer", "minimum": 2},
          "class_names": {"type": "array", "items": {"type": "string"}},
          "answer_mode": {"type": "string", "description": "probabilities, label or top-<k>."},
          "max_rows_per_request": {"type": "integer", "minimum": 1},
          "max_body_bytes": {"type": "integer", "minimum": 1},
          "content_types": {"type": "array", "items": {"type": "string"}}
        }
      },
      "Health": {
        "type": "object", "required": ["status"], "additionalProperties": false,
        "properties": {"status": {"type": "string", "enum": ["ok"]}}
      },
      "ClientListing": {
        "type": "object", "required": ["clients"], "additionalProperties": false,
        "properties": {"clients": {"type": "array", "items": {"$ref": "#/components/schemas/ClientRecord"}}}
      },
      "ClientRecord": {
        "type": "object",
        "required": ["client", "model_sha256", "key_fingerprint", "requests", "queries", "rows_mixed", "rows_flipped",
                     "similarity_sum", "mean_similarity", "rejected_requests", "first_seen", "last_seen"],
        "additionalProperties": false,
        "properties": {
          "client": {"type": "string"},
          "model_sha256": {"type": "string"},
          "key_fingerprint": {"type": "string", "description": "First 16 hex digits of SHA-256(secret); never the secret."},
          "requests": {"type": "integer", "minimum": 0},
          "queries": {"type": "integer", "minimum": 0},
          "rows_mixed": {"type": "integer", "minimum": 0},
          "rows_flipped": {"type": "integer", "minimum": 0},
          "similarity_sum": {"type": "number"},
          "mean_similarity": {"type": "number"},
          "rejected_requests": {"type": "integer", "minimum": 0},
          "first_seen": {"type": "string", "format": "date-time"},
          "last_seen": {"type": "string", "format": "date-time"}
        }
      },
      "Error": {
        "type": "object", "required": ["error"], "additionalProperties": false,
        "properties": {"error": {
          "type": "object", "required": ["status", "code", "message"], "additionalProperties": false,
          "properties": {
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "code": {"type": "string", "enum": ["malformed_request", "malformed_json", "malformed_npy", "wrong_shape", "non_finite", "out_of_range",
                                                 "empty_request", "missing_api_key", "unknown_client", "missing_admin_token",
                                                 "wrong_admin_token", "not_found", "method_not_allowed", "body_timeout",
                                                 "body_too_large", "too_many_rows", "unsupported_media_type", "rate_limited",
                                                 "address_rate_limited", "locked_out", "overloaded", "internal_error"]},
            "message": {"type": "string"}
          }
        }}
      }
    }
  }
}
"""#
}
