import { useCallback, useEffect, useState } from "react";
import { ApiError } from "../../api/errors";
import type { AlertRule, AlertRuleInput } from "../../api/types";
import { useServices } from "../../app/context";
import { ErrorMessage } from "../../components/ErrorMessage";

const EMPTY: AlertRuleInput = {
  name: "",
  description: "",
  metric_name: "",
  condition: "> 0",
  severity: "warning",
  message_template: "{value}",
  cooldown_seconds: 1800,
  enabled: true,
};

function inputOf(rule: AlertRule): AlertRuleInput {
  const { name, description, metric_name, condition, severity, message_template, cooldown_seconds, enabled } = rule;
  return { name, description, metric_name, condition, severity, message_template, cooldown_seconds, enabled };
}

export function RulesEditor() {
  const { api } = useServices();
  const [rules, setRules] = useState<AlertRule[]>([]);
  const [editing, setEditing] = useState<string | null>(null); // rule_id, "new", or null
  const [draft, setDraft] = useState<AlertRuleInput>(EMPTY);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      setRules((await api.rules()).items);
    } catch (caught) {
      setError(caught);
    }
  }, [api]);
  useEffect(() => void load(), [load]);

  const edit = (rule: AlertRule | null) => {
    setEditing(rule ? rule.rule_id : "new");
    setDraft(rule ? inputOf(rule) : EMPTY);
    setFieldErrors({});
    setError(null);
  };

  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    try {
      if (editing === "new") await api.createRule(draft);
      else if (editing) await api.updateRule(editing, draft);
      setEditing(null);
      setFieldErrors({});
      setError(null);
      await load();
    } catch (caught) {
      setError(caught);
      setFieldErrors(caught instanceof ApiError ? caught.fields : {});
    }
  };

  const toggle = async (rule: AlertRule) => {
    try {
      await api.updateRule(rule.rule_id, { ...inputOf(rule), enabled: !rule.enabled });
      await load();
    } catch (caught) {
      setError(caught);
    }
  };

  const remove = async (rule: AlertRule) => {
    if (!window.confirm(`Delete the rule "${rule.name}"?`)) return;
    try {
      await api.deleteRule(rule.rule_id);
      await load();
    } catch (caught) {
      setError(caught);
    }
  };

  const field = (name: keyof AlertRuleInput, label: string, input: React.ReactNode) => (
    <div className="field">
      <label htmlFor={`rule-${name}`}>{label}</label>
      {input}
      {fieldErrors[name] && (
        <p className="field-error" id={`rule-${name}-error`} data-testid={`rule-error-${name}`}>
          {fieldErrors[name]}
        </p>
      )}
    </div>
  );
  const text = (name: "name" | "description" | "metric_name" | "condition" | "message_template") => ({
    id: `rule-${name}`,
    value: draft[name] ?? "",
    "aria-invalid": !!fieldErrors[name],
    "aria-describedby": fieldErrors[name] ? `rule-${name}-error` : undefined,
    onChange: (e: React.ChangeEvent<HTMLInputElement>) => setDraft({ ...draft, [name]: e.target.value }),
  });

  return (
    <section aria-labelledby="rules-heading" className="rules">
      <h2 id="rules-heading">Alert rules</h2>
      {editing === null && (
        <button type="button" onClick={() => edit(null)} data-testid="rule-new">
          New rule
        </button>
      )}
      {editing === null && <ErrorMessage error={error} />}
      {editing !== null && (
        <form className="rule-form" onSubmit={save} aria-label={editing === "new" ? "New rule" : "Edit rule"} noValidate>
          {field("name", "Name", <input {...text("name")} />)}
          {field("description", "Description", <input {...text("description")} />)}
          {field("metric_name", "Metric", <input {...text("metric_name")} placeholder="cpu_usage_percent" />)}
          {field("condition", "Condition", <input {...text("condition")} placeholder="> 90" />)}
          {field(
            "severity",
            "Severity",
            <select id="rule-severity" value={draft.severity} onChange={(e) => setDraft({ ...draft, severity: e.target.value as AlertRuleInput["severity"] })}>
              {["info", "warning", "error", "critical"].map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>,
          )}
          {field("message_template", "Message ({value} is the metric's value)", <input {...text("message_template")} />)}
          {field(
            "cooldown_seconds",
            "Cooldown (seconds)",
            <input
              id="rule-cooldown_seconds"
              type="number"
              value={draft.cooldown_seconds ?? ""}
              aria-invalid={!!fieldErrors.cooldown_seconds}
              onChange={(e) => setDraft({ ...draft, cooldown_seconds: e.target.value === "" ? (undefined as unknown as number) : Number(e.target.value) })}
            />,
          )}
          <label className="checkbox">
            <input type="checkbox" checked={draft.enabled ?? true} onChange={(e) => setDraft({ ...draft, enabled: e.target.checked })} />
            Enabled
          </label>
          <ErrorMessage error={error} />
          <div className="actions">
            <button type="submit">Save rule</button>
            <button type="button" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      <div className="table-scroll">
        <table data-testid="rules-table">
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Metric</th>
              <th scope="col">Condition</th>
              <th scope="col">Severity</th>
              <th scope="col">Enabled</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {rules.map((rule) => (
              <tr key={rule.rule_id} data-rule-id={rule.rule_id}>
                <td>{rule.name}</td>
                <td>{rule.metric_name}</td>
                <td>
                  <code>{rule.condition}</code>
                </td>
                <td>
                  <span className={`badge severity-${rule.severity}`}>{rule.severity}</span>
                </td>
                <td>
                  <label className="checkbox">
                    <input type="checkbox" checked={rule.enabled} onChange={() => toggle(rule)} />
                    <span className="visually-hidden">Rule {rule.name} enabled</span>
                  </label>
                </td>
                <td>
                  <div className="row-actions">
                    <button type="button" onClick={() => edit(rule)}>
                      Edit
                    </button>
                    <button type="button" onClick={() => remove(rule)}>
                      Delete
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
