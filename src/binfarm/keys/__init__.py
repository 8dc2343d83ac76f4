"""Build keys and CPU fit (pure): what makes two binaries the same, and who may run one."""
