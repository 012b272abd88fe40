/**
 * Turns a Qualys SIMPLE_RETURN / GENERIC_RETURN error into a message that says what to fix
 * (docs/qualys_api.md, section 4; README: Troubleshooting).
 *
 * @module
 */

/** The parts of a Qualys error response. */
export interface QualysErrorBody {
  /** CODE (API v2) or RETURN@number (v1); empty when absent. */
  code: string;
  /** TEXT, or the RETURN text. */
  text: string;
  /** ITEM KEY/VALUE pairs. */
  items: readonly (readonly [string, string])[];
}

/**
 * Returns a one-line message for a Qualys error, ending with the fix.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const msg = describeQualysError({ code: "2000", text: "Bad Login/Password", items: [] });
 * assert.match(msg, /check user_id and password/);
 * ```
 */
export function describeQualysError(body: QualysErrorBody): string {
  const { code, text, items } = body;
  const signature = items.map(([k, v]) => `${k}: ${v}`).join("; ");
  const head = `Qualys answered${code ? ` CODE ${code}` : ""}: ${text.trim()}${
    signature ? ` (${signature})` : ""
  }`;
  const c = Number(code);
  let fix = "";
  if (c === 2000 || c === 2010 || (c >= 2000 && c < 2100 && /login|password/i.test(text))) {
    fix = "check user_id and password in the plugin YAML (put a password with punctuation in " +
      "single quotes) and that url is your account's API platform";
  } else if (c === 999 && /invalid report/i.test(signature)) {
    fix = "check template_id, and that the report template uses automatic data selection";
  } else if (c === 2001) fix = "the Qualys account has expired: renew it or use another account";
  else if (c === 2003) fix = "finish the account registration in the Qualys web interface";
  else if (c === 1960 || c === 1965) {
    fix = "the API limits are reached: run the connector later, or less often";
  } else if (c === 7001) fix = "the report is not ready or no longer exists";
  else if (/max number of allowed reports/i.test(text)) {
    fix = "too many reports are running: wait for them to finish, then run again";
  } else if (c === 999) fix = "Qualys had an internal error: try again later";
  return fix ? `${head}: ${fix}` : head;
}
