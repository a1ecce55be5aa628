/* SPDX-License-Identifier: MIT */
/* list.h — intrusive circular doubly-linked list.
 *
 * The node lives inside the object that is queued (a waiter on a task's
 * stack, an fd's reader list...), so queueing never allocates.
 */
#ifndef CIO_LIST_H
#define CIO_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cio__list {
    struct cio__list *next, *prev;
} cio__list;

static inline void cio__list_init(cio__list *head) { head->next = head->prev = head; }

static inline bool cio__list_empty(const cio__list *head) { return head->next == head; }

/* A node that is not in any list points at itself, so removing it twice, or
 * removing one never inserted but initialised, is harmless. */
static inline bool cio__list_linked(const cio__list *node) { return node->next != node; }

static inline void cio__list_push_back(cio__list *head, cio__list *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static inline void cio__list_push_front(cio__list *head, cio__list *node)
{
    cio__list_push_back(head->next, node);
}

static inline void cio__list_remove(cio__list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->next = node->prev = node;
}

static inline cio__list *cio__list_pop_front(cio__list *head)
{
    cio__list *node = head->next;
    if (node == head)
        return NULL;
    cio__list_remove(node);
    return node;
}

#endif
