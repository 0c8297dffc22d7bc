/*
 * lock.h - the cross-process locks: the writer lock, and the open lock every handle holds
 * shared and repair takes exclusively (lock.c).
 */
#ifndef EVS_FILE_LOCK_H
#define EVS_FILE_LOCK_H

typedef struct file_backend file_backend;

int evs__wlock_acquire(file_backend *fb, int wait_ms);
void evs__wlock_release(file_backend *fb);
/* Hold the open lock shared until fb is freed; while a repair runs, wait per wait_ms
 * (as lock_wait_ms), then EVS_EBUSY. */
int evs__openlock_shared(file_backend *fb, int wait_ms);
/* Hold the open lock exclusively, without waiting: EVS_EBUSY (naming the processes that
 * hold it, where the system tells) while any handle anywhere has the store open. */
int evs__openlock_exclusive(file_backend *fb);

#endif /* EVS_FILE_LOCK_H */
