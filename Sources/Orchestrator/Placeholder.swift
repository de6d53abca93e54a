public enum OrchestratorPlaceholder {}
