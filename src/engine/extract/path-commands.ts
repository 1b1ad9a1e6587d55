// pdfjs's path commands inside a constructPath operator's buffer (DrawOPS in pdfjs): what the
// content-stream reader writes and the drawings step reads.
export const MOVE_TO = 0;
export const LINE_TO = 1;
export const CURVE_TO = 2;
export const QUADRATIC_CURVE_TO = 3;
export const CLOSE_PATH = 4;
