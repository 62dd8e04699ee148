/** Shapes of the rolechat browser API (see the OpenAPI document at /api/openapi.json). */

export type MessageStatus = "complete" | "interrupted" | "failed";

export interface Message {
  id: string;
  role: "user" | "assistant";
  content: string;
  model?: string | null;
  /** The role that produced an answer, when the conversation used one. */
  role_id?: string | null;
  status: MessageStatus;
  created_at: string;
}

export interface Conversation {
  id: string;
  title: string;
  instructions: string;
  role_id?: string | null;
  model: string;
  created_at: string;
  updated_at: string;
}

export interface ConversationWithMessages extends Conversation {
  messages: Message[];
}

export interface ModelInfo {
  id: string;
  label?: string;
  /** Tokens the model can read at once, when the catalog knows it. */
  context_window?: number | null;
  fine_tuned?: boolean | null;
}

/** A pinned message, excerpt of a message, or note of a conversation. */
export interface Pin {
  id: string;
  text: string;
  message_id?: string | null;
  created_at?: string;
}

export type NewPin = { message_id: string; text?: string } | { text: string };

export interface ModelCatalog {
  models: ModelInfo[];
  default: string;
}

export interface Me {
  id: string;
  username: string;
  groups: string[];
}

export interface AppConfig {
  auth: "local" | "cognito";
  logoutUrl?: string;
  loginUrl?: string;
}

/** The `done` event of a message stream. */
export interface StreamDone {
  message: Message;
  user_message: Message;
}

/** The `error` event of a message stream. */
export interface StreamError {
  code: string;
  message: string;
}

/** A role: a built-in preset (read-only) or one of the user's own. */
export interface Role {
  id: string;
  name: string;
  instructions: string;
  builtin?: boolean;
  model?: string | null;
  temperature?: number | null;
  max_answer_tokens?: number | null;
  pins?: Pin[];
}

export interface RoleFields {
  name: string;
  instructions?: string;
  model?: string | null;
  temperature?: number | null;
  max_answer_tokens?: number | null;
}
