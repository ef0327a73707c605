/** inField: whether offset `off` of a context lies in the `size`-byte field at `field` (a word unless said). */
export const inField = (off: number, field: number, size = 4): boolean => off >= field && off < field + size;
