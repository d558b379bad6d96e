import { describe, expect, it } from "vitest";
import { ApiError, describe as describeError, errorFromResponse, networkError } from "./errors";

describe("errorFromResponse", () => {
  it("test_validation_errors_go_to_their_fields_in_words", () => {
    const error = errorFromResponse(422, {
      detail: [
        { loc: ["body", "condition"], msg: "Value error, condition must be an operator and a number", type: "value_error" },
        { loc: ["body", "cooldown_seconds"], msg: "Input should be greater than or equal to 0", type: "greater_than_equal" },
      ],
    });
    expect(error.fields).toEqual({
      condition: "Condition must be an operator and a number.",
      cooldown_seconds: "Input should be greater than or equal to 0.",
    });
    expect(error.message).toBe("Some fields need correcting.");
  });

  it("test_string_detail_becomes_a_sentence", () => {
    expect(errorFromResponse(409, { detail: "alert is already acknowledged" }).message).toBe("Alert is already acknowledged.");
  });

  it("test_body_that_is_not_json_gets_a_sentence_for_its_status", () => {
    expect(errorFromResponse(502, null).message).toBe("The server had a problem. Please try again.");
    expect(errorFromResponse(418, { message: "teapot" }).message).toBe("The request failed (HTTP 418).");
  });

  it("test_throttled_login_says_when_to_retry", () => {
    expect(errorFromResponse(429, { detail: "Too many failed logins" }, "30").message).toBe("Too many attempts. Try again in 30 seconds.");
  });

  it("test_describe_never_shows_raw_objects", () => {
    expect(describeError(new ApiError("Readable.", 400))).toBe("Readable.");
    expect(describeError({ detail: [{ loc: ["x"] }] })).toBe("Something went wrong. Please try again.");
    expect(describeError(networkError())).toMatch(/Cannot reach the server/);
  });
});
