/** POST /api/feedback: a rating of a stylised image by the client that made it. */
import { z } from 'zod';

export const feedbackRequestSchema = z
  .strictObject({
    feedback: z.enum(['good', 'bad']),
    model: z.string().min(1).max(64),
    content_image_filename: z.string().min(1).max(128),
    output_image_filename: z.string().min(1).max(128),
    /** An ISO-8601 date, or epoch milliseconds as a number or a string of digits. */
    timestamp: z.union([z.string().min(1).max(64), z.number()]),
    comment: z.string().max(2000).optional(),
  })
  .meta({ id: 'FeedbackRequest' });
export type FeedbackRequest = z.infer<typeof feedbackRequestSchema>;

export const feedbackResponseSchema = z
  .object({
    /** replaced: this client had rated the output before; the newer rating counts. */
    status: z.enum(['recorded', 'replaced']),
    /** The version that made the rated output. */
    version: z.string(),
  })
  .meta({ id: 'FeedbackResult' });
export type FeedbackResponse = z.infer<typeof feedbackResponseSchema>;
