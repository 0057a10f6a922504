// Placeholder for issue 16 (being written); filled by its owner.
export {};
